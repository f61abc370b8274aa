/**
 * "Did you mean": the known word closest to a misspelt one, when it is close enough to be the likely intent.
 * @module
 */

/** The candidate `word` most likely means: the same but for case, else one within a couple of edits. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase()
  const sameButCase = candidates.find((candidate) => candidate.toLowerCase() === lower)
  if (sameButCase) return sameButCase
  // Short words have few letters to spare: `url` is not a typo of `dir`.
  const allowed = Math.min(2, Math.floor(word.length / 3))
  let best: { candidate: string; distance: number } | undefined
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate.toLowerCase())
    if (distance <= allowed && (!best || distance < best.distance)) best = { candidate, distance }
  }
  return best?.candidate
}

/** Edits from `a` to `b`: inserting, deleting or replacing a character, or swapping two neighbours (`dri`, `dir`). */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [Array.from({ length: b.length + 1 }, (_, j) => j)]
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      let best = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, rows[i - 2]![j - 2]! + 1)
      row.push(best)
    }
    rows.push(row)
  }
  return rows[a.length]![b.length]!
}
