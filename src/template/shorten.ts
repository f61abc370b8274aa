/**
 * Names short enough for every store: a file system takes 255 bytes per name, S3 and GCS take keys of 1,024 bytes.
 * A name that would be longer has its longest values shortened to a readable head and a hash of the whole value
 * (`very-long-na~3f2a...`), never refused: a refused write would be an event lost, since the platform never resends.
 * @module
 */
import { createHash } from 'node:crypto'

/** The longest file or folder name most file systems take (ext4, XFS, Btrfs, APFS, NTFS). */
export const MAX_NAME_BYTES = 255
/** The longest key S3 and GCS take. */
export const MAX_KEY_BYTES = 1024

/**
 * Hex digits of SHA-256 kept in a shortened value: 96 bits, so finding another value with the same shortened name
 * is out of reach. Lower-case, and `~` never appears in an escaped value, so a shortened value cannot equal an
 * escaped one (nor one differing only in case).
 */
const HASH_DIGITS = 24
/** The shortest a value is shortened to: `~` and the hash. */
const SHORTEST = 1 + HASH_DIGITS

/** A part of a name: literal text from the template, or a value's escaped text, which may be shortened. */
export type Piece = string | { value: string }

export function byteLength(text: string): number {
  return /^[\x00-\x7f]*$/.test(text) ? text.length : new TextEncoder().encode(text).length
}

/** One character of an escaped value: a kept character, or the `%XX` escapes of its UTF-8 bytes. */
const UNITS = /%[C-F][0-9A-F](?:%[89AB][0-9A-F])*|%[0-9A-F]{2}|[^%]/g

/** `text` (ASCII) in at most `cap` bytes: as it is, or its head, `~` and its hash. */
function shortened(text: string, cap: number): string {
  if (text.length <= cap) return text
  // Whole characters only (a character's escapes together), so the head still decodes.
  let head = ''
  for (const [unit] of text.matchAll(UNITS)) {
    if (head.length + unit.length > cap - SHORTEST) break
    head += unit
  }
  return `${head}~${createHash('sha256').update(text).digest('hex').slice(0, HASH_DIGITS)}`
}

/**
 * The name `pieces` make, in at most `budget` bytes when it can be done: values longer than a cap are shortened to
 * it, with the largest cap that fits, so short values stay whole and the longest give way first. When even
 * shortest values do not fit, the shortest form (the caller finds it too long).
 */
export function fitName(pieces: readonly Piece[], budget: number): string {
  const lengths = pieces.map((piece) => (typeof piece === 'string' ? byteLength(piece) : piece.value.length))
  const isValue = pieces.map((piece) => typeof piece !== 'string')
  const size = (cap: number) =>
    lengths.reduce((sum, length, i) => sum + (isValue[i] ? Math.min(length, cap) : length), 0)
  let cap = Math.max(SHORTEST, ...lengths.filter((_, i) => isValue[i]))
  if (size(cap) > budget) {
    // The largest cap in [SHORTEST, cap) that fits, or SHORTEST; size() grows with the cap.
    let low = SHORTEST
    let high = cap - 1
    while (low < high) {
      const middle = Math.ceil((low + high) / 2)
      if (size(middle) <= budget) low = middle
      else high = middle - 1
    }
    cap = low
  }
  return pieces.map((piece) => (typeof piece === 'string' ? piece : shortened(piece.value, cap))).join('')
}
