/**
 * The key that signs hookcast's own thumbnail links, behind a small store so several instances (a NATS KV bucket,
 * an S3 object written with If-None-Match) sign and check with the same one: `getOrCreate` creates it only when
 * absent, then reads back whichever creation won.
 * @module
 */

/** Bytes of a signing key (HMAC-SHA-256). */
export const SIGNING_KEY_BYTES = 32

export interface SigningKeyStore {
  /** The key: made on first use, the same for every caller (concurrent first calls too) and across restarts. */
  getOrCreate(): Promise<Uint8Array>
}

/** A new random key. */
export const newSigningKey = () => crypto.getRandomValues(new Uint8Array(SIGNING_KEY_BYTES))

/** The key in this process's memory: one instance, a new key at every start (tests). */
export function memorySigningKeyStore(): SigningKeyStore {
  let key: Uint8Array | undefined
  return {
    async getOrCreate() {
      key ??= newSigningKey()
      return key.slice()
    },
  }
}
