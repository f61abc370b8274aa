/**
 * The escape that turns a value into text for one file or object name, injectively: two different values never
 * give the same text, so two streams never share a folder.
 * @module
 */

/** What a missing or empty value becomes. The value `_` itself is escaped, so the two never meet. */
export const MISSING = '_'

const KEPT = /^[A-Za-z0-9_@=-][A-Za-z0-9._@=-]*$/
const SAFE_CHAR = /^[A-Za-z0-9._@=-]$/

/**
 * A value made only of `A-Z a-z 0-9 . _ @ = -` is kept as it is (the keys hookcast always gave such names), except
 * a leading `.` (no hidden names, nor hookcast's own `.hookcast-tmp`) and the value `_` alone (what a missing value
 * becomes). Every other character is percent-encoded, each UTF-8 byte as `%XX` in upper-case hex, `%` itself
 * included, so the text decodes back to the value (`decodeURIComponent`) and an escape never differs from another
 * by case alone (case-insensitive file systems). A lone UTF-16 surrogate, which JSON can carry, is encoded as its
 * own three bytes (as WTF-8 does; such a name does not decode) rather than as U+FFFD, which would collide with a
 * real U+FFFD.
 */
export function escapeValue(value: string): string {
  if (value === MISSING) return '%5F'
  if (KEPT.test(value)) return value
  let out = ''
  for (const char of value) {
    out += SAFE_CHAR.test(char) && !(out === '' && char === '.') ? char : percentEncoded(char.codePointAt(0)!)
  }
  return out
}

/** UTF-8 of one code point (surrogates included, as WTF-8 does), each byte as `%XX`. */
function percentEncoded(point: number): string {
  const bytes =
    point < 0x80
      ? [point]
      : point < 0x800
        ? [0xc0 | (point >> 6), 0x80 | (point & 63)]
        : point < 0x10000
          ? [0xe0 | (point >> 12), 0x80 | ((point >> 6) & 63), 0x80 | (point & 63)]
          : [0xf0 | (point >> 18), 0x80 | ((point >> 12) & 63), 0x80 | ((point >> 6) & 63), 0x80 | (point & 63)]
  return bytes.map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join('')
}
