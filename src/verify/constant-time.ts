/**
 * Constant-time comparison of two byte strings.
 *
 * Works on the views themselves (index by index), so subarrays with a byteOffset compare correctly, unlike
 * helpers that wrap `a.buffer` in a DataView.
 * @module
 */

/** True when `a` and `b` hold the same bytes; the time taken depends only on the lengths. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  let diff = 0
  for (let i = 0; i < a.byteLength; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}
