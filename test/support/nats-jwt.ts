/**
 * NATS decentralised auth for tests, made without the `nsc` tool: an operator, one account with JetStream (and the
 * system account JetStream needs), and users of that account, as signed JWTs (NATS JWT v2: header
 * `{"typ":"JWT","alg":"ed25519-nkey"}`, claims with a `nats` section, signed by the issuer's NKey) and `.creds` files.
 * `serverConfig` gives the nats-server lines that trust the operator and preload the account (resolver MEMORY); an
 * account JWT may revoke users, so a restarted server refuses their credentials.
 *
 * The NKeys come from @nats-io/nkeys, the library the NATS client itself signs with.
 */
import { createHash } from 'node:crypto'
import { createAccount, createOperator, createUser, type KeyPair } from '@nats-io/nkeys'

const HEADER = { typ: 'JWT', alg: 'ed25519-nkey' }
const UNLIMITED = -1

const base64url = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64url')

/** RFC 4648 base32 without padding, as the JWT library writes a claim's `jti`. */
function base32(bytes: Uint8Array): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let bits = 0
  let value = 0
  let out = ''
  for (const byte of bytes) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  return bits > 0 ? out + alphabet[(value << (5 - bits)) & 31] : out
}

function encodeJwt(issuer: KeyPair, subject: string, name: string, nats: Record<string, unknown>): string {
  const claims: Record<string, unknown> = {
    jti: '',
    iat: Math.floor(Date.now() / 1000),
    iss: issuer.getPublicKey(),
    name,
    sub: subject,
    nats,
  }
  claims.jti = base32(createHash('sha512-256').update(JSON.stringify(claims)).digest())
  const signed = `${base64url(JSON.stringify(HEADER))}.${base64url(JSON.stringify(claims))}`
  return `${signed}.${base64url(issuer.sign(new TextEncoder().encode(signed)))}`
}

export interface NatsUser {
  publicKey: string
  /** A `.creds` file's text: the user's JWT and NKey seed. */
  creds: string
}

export interface NatsOperator {
  /** The nats-server config lines that trust this operator and preload the account, revoking `revoked` users. */
  serverConfig(revoked?: NatsUser[]): string
  user(name: string): NatsUser
}

export function natsOperator(): NatsOperator {
  const operator = createOperator()
  const account = createAccount()
  // JetStream needs a system account for its internal subscriptions.
  const system = createAccount()
  const systemJwt = encodeJwt(operator, system.getPublicKey(), 'SYS', { limits: {}, type: 'account', version: 2 })
  const operatorJwt = encodeJwt(operator, operator.getPublicKey(), 'hookcast-tests', { type: 'operator', version: 2 })
  const accountJwt = (revoked: NatsUser[]) =>
    encodeJwt(operator, account.getPublicKey(), 'hookcast', {
      limits: {
        subs: UNLIMITED,
        data: UNLIMITED,
        payload: UNLIMITED,
        imports: UNLIMITED,
        exports: UNLIMITED,
        wildcards: true,
        conn: UNLIMITED,
        leaf: UNLIMITED,
        // JetStream is on for an account whose storage limits are not 0.
        mem_storage: UNLIMITED,
        disk_storage: UNLIMITED,
        streams: UNLIMITED,
        consumer: UNLIMITED,
      },
      default_permissions: { pub: {}, sub: {} },
      // A user JWT issued at or before the time given here is refused.
      ...(revoked.length > 0
        ? {
            revocations: Object.fromEntries(revoked.map((user) => [user.publicKey, Math.floor(Date.now() / 1000) + 1])),
          }
        : {}),
      type: 'account',
      version: 2,
    })
  return {
    serverConfig: (revoked = []) =>
      [
        `operator: ${JSON.stringify(operatorJwt)}`,
        `system_account: ${system.getPublicKey()}`,
        'resolver: MEMORY',
        'resolver_preload: {',
        `  ${system.getPublicKey()}: ${JSON.stringify(systemJwt)}`,
        `  ${account.getPublicKey()}: ${JSON.stringify(accountJwt(revoked))}`,
        '}',
      ].join('\n'),
    user(name) {
      const user = createUser()
      const jwt = encodeJwt(account, user.getPublicKey(), name, {
        pub: {},
        sub: {},
        subs: UNLIMITED,
        data: UNLIMITED,
        payload: UNLIMITED,
        type: 'user',
        version: 2,
      })
      const seed = new TextDecoder().decode(user.getSeed())
      return {
        publicKey: user.getPublicKey(),
        creds: [
          '-----BEGIN NATS USER JWT-----',
          jwt,
          '------END NATS USER JWT------',
          '',
          '************************* IMPORTANT *************************',
          'NKEY Seed printed below can be used to sign and prove identity.',
          'NKEYs are sensitive and should be treated as secrets.',
          '',
          '-----BEGIN USER NKEY SEED-----',
          seed,
          '------END USER NKEY SEED------',
          '',
          '*************************************************************',
          '',
        ].join('\n'),
      }
    },
  }
}
