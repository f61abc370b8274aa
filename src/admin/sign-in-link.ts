/**
 * One-time sign-in links, so that a gateway started without `admin.token` (on loopback, or with
 * `admin.signInLinks: true`) still opens its live streams page at once: it prints
 * `http://127.0.0.1:8080/login#token=…` when it listens, as notebook servers do. Each link signs in once, then a
 * new one is printed; it is never a bearer token (scripts need `admin.token`), and never made on a serverless
 * function, whose output nobody reads.
 * @module
 */
import { timingSafeEqual } from '../verify/constant-time.ts'

/** Random bytes in a token: 256 bits, like a session id. */
export const SIGN_IN_TOKEN_BYTES = 32

/** Used tokens remembered, to tell "already used" from "wrong". */
const USED_KEPT = 16

/** What a token typed into (or posted by) the sign-in form is. */
type LinkCheck = 'ok' | 'used' | 'wrong'

/**
 * The token is after `#`: browsers never send a fragment to a server, so it reaches no proxy, access log or Referer.
 * The login page's script takes it out of the address bar and the history, then signs in with it through the form:
 * a same-origin POST, like typing it (so no GET signs anyone in). Whoever reads the gateway's output can sign in, so
 * links go to stdout only, never through the structured log.
 */
export interface SignInLinks {
  /** The token of the link that signs in now. */
  readonly token: string
  /**
   * Checks a sign-in token in constant time. `ok`: it was the current token; it is now used up and the next one
   * made (`onRenew` is told). Concurrent sign-ins with one token: one gets `ok`, the others `used`.
   */
  consume(candidate: string): Promise<LinkCheck>
}

interface SignInLinkOptions {
  /** Told of each new token after one was used (to print the next link). */
  onRenew?: (token: string) => void
  /** For tests: makes the tokens (default: randomToken). */
  random?: () => string
}

/** `bytes` random bytes (crypto.getRandomValues), base64url without padding: safe in a URL fragment as it is. */
export function randomToken(bytes = SIGN_IN_TOKEN_BYTES): string {
  const random = crypto.getRandomValues(new Uint8Array(bytes))
  return btoa(String.fromCharCode(...random))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '')
}

export function createSignInLinks(options: SignInLinkOptions = {}): SignInLinks {
  const random = options.random ?? (() => randomToken())
  let current = random()
  const used: string[] = []
  const digest = async (text: string) =>
    new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)))
  // Hashed first, so neither the content nor the length of a token shows in the time taken.
  const same = async (candidate: Uint8Array, token: string) => timingSafeEqual(candidate, await digest(token))

  return {
    get token() {
      return current
    },
    async consume(candidate) {
      const token = current
      const hashed = await digest(candidate)
      if (await same(hashed, token)) {
        // Another sign-in with this token may have finished while this one was hashing: only one of them wins.
        if (current !== token) return 'used'
        used.unshift(token)
        used.length = Math.min(used.length, USED_KEPT)
        current = random()
        options.onRenew?.(current)
        return 'ok'
      }
      for (const old of used) if (await same(hashed, old)) return 'used'
      return 'wrong'
    },
  }
}

/**
 * The origin to print for a server listening on `host`: a wildcard address (all interfaces) is reached from this
 * machine as loopback; an IPv6 address goes in brackets.
 */
export function linkOrigin(host: string, port: number): string {
  const bare = host.replace(/^\[(.*)\]$/, '$1')
  const name =
    bare === '' || bare === '0.0.0.0' ? '127.0.0.1' : bare === '::' ? '[::1]' : bare.includes(':') ? `[${bare}]` : bare
  return `http://${name}:${port}`
}

/** True for an address that means every interface: the printed loopback link then has a note for other machines. */
export function isWildcard(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1')
  return bare === '' || bare === '0.0.0.0' || bare === '::'
}

export function signInLink(origin: string, token: string): string {
  return `${origin}/login#token=${token}`
}

/**
 * What is printed on stdout for a human, apart from the JSON log lines: the link, marked as a secret. `renewed`
 * after the previous link was used.
 */
export function signInBanner(link: string, options: { renewed?: boolean; wildcard?: boolean } = {}): string {
  const rule = '-'.repeat(78)
  return [
    rule,
    options.renewed
      ? 'hookcast: the sign-in link was used. A new one, for the next browser (it too signs in once):'
      : 'hookcast: no admin.token is set. Open the live streams page with this sign-in link (it signs in once):',
    '',
    `    ${link}`,
    '',
    'Keep it secret: anyone with it can sign in until it is used. Each use prints a new one here.',
    ...(options.wildcard ? ["From another machine, put this machine's address in place of the host."] : []),
    "Set admin.token (HOOKCAST_ADMIN_TOKEN) for a token that stays, and for the API's bearer header.",
    rule,
  ].join('\n')
}
