/**
 * The thumbnail-link signing key as an S3 object (`<prefix>/keys/url-signing-key`, base64), so every invocation
 * signs and checks links with the same key: a PutObject with `If-None-Match: *` makes it only when absent, and
 * whoever loses the race reads back the key that won. An object that holds no usable key is replaced with
 * `If-Match` on exactly what was read.
 * @module
 */
import { decodeBase64, toBase64 } from '../../util/encoding.ts'
import { newSigningKey, SIGNING_KEY_BYTES, type SigningKeyStore } from '../../streams/signing-key.ts'
import { s3Objects } from './objects.ts'
import { prefixRoot } from './queue-keys.ts'
import type { S3Connection } from '../../sinks/s3-client.ts'

interface S3SigningKeyOptions extends S3Connection {
  /** Every key starts with `<prefix>/`. Default `hookcast`. */
  prefix?: string
}

/** A writer that keeps finding an unusable value gives up after this many reads. */
const TRIES = 4

export function s3SigningKeyStore(options: S3SigningKeyOptions): SigningKeyStore {
  const objects = s3Objects(options)
  const key = `${prefixRoot(options.prefix)}keys/url-signing-key`
  let known: Uint8Array | undefined
  return {
    async getOrCreate() {
      if (known) return known.slice()
      for (let attempt = 0; attempt < TRIES; attempt++) {
        const got = await objects.get(key)
        const stored = got ? decodeBase64(new TextDecoder().decode(got.body).trim()) : undefined
        if (stored && stored.byteLength >= SIGNING_KEY_BYTES) {
          known = stored
          return stored.slice()
        }
        // Absent: create it; there but unusable: replace exactly what was read. Then read back whichever won.
        await objects.put(
          key,
          new TextEncoder().encode(toBase64(newSigningKey())),
          got ? { ifMatch: got.etag } : { ifNoneMatch: '*' },
        )
      }
      throw new Error(`cannot read back the thumbnail-link signing key in s3://${objects.bucket}/${key}`)
    },
  }
}
