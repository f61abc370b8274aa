/**
 * A stream's name in a store (file, KV key, object key): 128 bits of SHA-256 of its id, in hex, so any id fits and
 * no id reaches a path.
 * @module
 */
import { createHash } from 'node:crypto'

export function streamKey(streamId: string): string {
  return createHash('sha256').update(streamId, 'utf8').digest('hex').slice(0, 32)
}
