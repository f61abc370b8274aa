/**
 * A binary min-heap, for deliveries waiting for their retry time.
 * @module
 */

export class MinHeap<T> {
  readonly #items: T[] = []
  readonly #key: (item: T) => number
  readonly #tie: ((item: T) => number) | undefined

  /** `tie` orders items of equal `key` (without it their order is arbitrary). */
  constructor(key: (item: T) => number, tie?: (item: T) => number) {
    this.#key = key
    this.#tie = tie
  }

  #less(a: T, b: T): boolean {
    const ka = this.#key(a)
    const kb = this.#key(b)
    return ka < kb || (ka === kb && this.#tie !== undefined && this.#tie(a) < this.#tie(b))
  }

  get size(): number {
    return this.#items.length
  }

  peek(): T | undefined {
    return this.#items[0]
  }

  push(item: T): void {
    const items = this.#items
    items.push(item)
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.#less(items[i]!, items[parent]!)) break
      ;[items[parent], items[i]] = [items[i]!, items[parent]!]
      i = parent
    }
  }

  pop(): T | undefined {
    const items = this.#items
    const top = items[0]
    const last = items.pop()
    if (items.length > 0 && last !== undefined) {
      items[0] = last
      let i = 0
      for (;;) {
        const left = 2 * i + 1
        const right = left + 1
        let smallest = i
        if (left < items.length && this.#less(items[left]!, items[smallest]!)) smallest = left
        if (right < items.length && this.#less(items[right]!, items[smallest]!)) smallest = right
        if (smallest === i) break
        ;[items[smallest], items[i]] = [items[i]!, items[smallest]!]
        i = smallest
      }
    }
    return top
  }
}
