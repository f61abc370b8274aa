/**
 * The dedup step every queue's `put` starts with. An id remembered within the window is a duplicate; an identical
 * put still under way is waited for, so a second copy is answered only once the first is durable (and, if the
 * first fails, the second is put instead of being lost as a "duplicate" of nothing).
 * @module
 */
import type { DedupWindow } from './dedup.ts'

export function dedupedPut(
  dedup: DedupWindow,
): (id: string, put: () => Promise<void>) => Promise<{ duplicate: boolean }> {
  const underWay = new Map<string, Promise<void>>()
  return async function deduped(id, put) {
    const earlier = underWay.get(id)
    if (earlier) {
      const kept = await earlier.then(
        () => true,
        () => false,
      )
      if (kept) return { duplicate: true }
      return deduped(id, put)
    }
    const work = (async () => {
      if (!(await dedup.remember(id))) throw new Duplicate()
      try {
        await put()
      } catch (error) {
        await dedup.forget(id).catch(() => {})
        throw error
      }
    })()
    underWay.set(id, work)
    try {
      await work
      return { duplicate: false }
    } catch (error) {
      if (error instanceof Duplicate) return { duplicate: true }
      throw error
    } finally {
      if (underWay.get(id) === work) underWay.delete(id)
    }
  }
}

class Duplicate extends Error {}
