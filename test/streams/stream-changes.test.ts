/**
 * Changes to one stream in one process: the ones that wait for a write under way are written together in the next.
 */
import { describe, expect, it } from 'vitest'
import { memoryStreamStore } from '../../src/streams/memory-stream-store.ts'
import type { StreamStore } from '../../src/streams/stream-store.ts'
import { streamChanges } from '../../src/streams/stream-changes.ts'
import type { StreamRecord } from '../../src/streams/stream-types.ts'

/** A store that counts puts and can hold them until released. */
function countingStore() {
  const inner = memoryStreamStore()
  const puts: Array<{ streamId: string; names: string | undefined; lazy: boolean }> = []
  const gets: string[] = []
  let gate: Promise<void> | undefined
  let open = () => {}
  const store: StreamStore = {
    ...inner,
    get(streamId) {
      gets.push(streamId)
      return inner.get(streamId)
    },
    async put(streamId, record, expected, options) {
      puts.push({ streamId, names: record.streamName, lazy: options?.lazy === true })
      await gate
      return inner.put(streamId, record, expected, options)
    },
  }
  return {
    store,
    puts,
    gets,
    hold() {
      gate = new Promise((resolve) => {
        open = resolve
      })
    },
    release() {
      gate = undefined
      open()
    },
  }
}

const append = (name: string) => (r: StreamRecord) => {
  r.streamName = (r.streamName ?? '') + name
}
const settle = () => new Promise((resolve) => setTimeout(resolve, 10))

describe('streamChanges', () => {
  it('writes the changes that waited for a write under way together, in order, once', async () => {
    const { store, puts, hold, release } = countingStore()
    const change = streamChanges(store, Date.now)
    hold()
    const first = change('acc/s', append('a'))
    await settle() // the first write is under way
    const waiting = ['b', 'c', 'd'].map((name) => change('acc/s', append(name)))
    await settle()
    expect(puts).toHaveLength(1)
    release()
    const results = await Promise.all([first, ...waiting])
    expect(puts.map((put) => put.names)).toEqual(['a', 'abcd'])
    expect(results[0]!.record.streamName).toBe('a')
    for (const result of results.slice(1)) expect(result!.record.streamName).toBe('abcd')
    expect((await store.get('acc/s'))!.record.streamName).toBe('abcd')
  })

  it('changes given in one go share the first write; other streams are written on their own', async () => {
    const { store, puts } = countingStore()
    const change = streamChanges(store, Date.now)
    await Promise.all([change('acc/s', append('a')), change('acc/t', append('x')), change('acc/s', append('b'))])
    expect(puts.map((put) => `${put.streamId}:${put.names}`).sort()).toEqual(['acc/s:ab', 'acc/t:x'])
  })

  it('does not write when no change in the turn changed anything; a lazy change waits for its own turn', async () => {
    const { store, puts, hold, release } = countingStore()
    const change = streamChanges(store, Date.now)
    await change('acc/s', append('a'))
    expect(await change('acc/s', () => false)).toMatchObject({ record: { streamName: 'a' } })
    expect(puts).toHaveLength(1)
    hold()
    const under = change('acc/s', append('b'))
    await settle()
    const lazy = change('acc/s', append('c'), { lazy: true })
    const plain = change('acc/s', append('d'))
    release()
    await Promise.all([under, lazy, plain])
    expect(puts.slice(1).map((put) => [put.names, put.lazy])).toEqual([
      ['ab', false],
      ['abc', true],
      ['abcd', false],
    ])
  })

  it('a turn whose every change says it changes nothing, of the stored record, reads no copy and writes nothing', async () => {
    const { store, puts, gets } = countingStore()
    const change = streamChanges(store, Date.now)
    await change('acc/s', append('a'))
    gets.length = 0
    const applied: string[] = []
    const appendSeen = (name: string) => (r: StreamRecord) => {
      applied.push(name)
      append(name)(r)
    }
    const named = (name: string) => ({ unchangedOn: (r: Readonly<StreamRecord>) => r.streamName === name })
    const result = await Promise.all([
      change('acc/s', appendSeen('x'), named('a')),
      change('acc/s', appendSeen('y'), named('a')),
    ])
    expect(result.map((r) => r!.record.streamName)).toEqual(['a', 'a'])
    expect(applied).toEqual([])
    expect(gets).toEqual([])
    expect(puts).toHaveLength(1)
    // One change in the turn that would change something (its check says so, or it has none): all are applied.
    await Promise.all([change('acc/s', appendSeen('b'), named('a')), change('acc/s', appendSeen('c'), named('other'))])
    await Promise.all([change('acc/s', appendSeen('d'), named('abc')), change('acc/s', appendSeen('e'))])
    expect(applied).toEqual(['b', 'c', 'd', 'e'])
    expect((await store.get('acc/s'))!.record.streamName).toBe('abcde')
    // No record yet: nothing to check against, the change makes it.
    expect((await change('acc/new', appendSeen('n'), { unchangedOn: () => true }))!.record.streamName).toBe('n')
  })

  it('a store that cannot hand out its own record: checks are not asked, each change runs on a copy', async () => {
    const { store, puts } = countingStore()
    const { peek: _peek, ...copiesOnly } = store
    const change = streamChanges(copiesOnly, Date.now)
    await change('acc/s', append('a'))
    let asked = 0
    const result = await change('acc/s', () => false, {
      unchangedOn: () => {
        asked++
        return true
      },
    })
    expect(result!.record.streamName).toBe('a')
    expect(asked).toBe(0)
    expect(puts).toHaveLength(1)
  })

  it('a change that only applies to an existing record resolves undefined when there is none', async () => {
    const { store, puts } = countingStore()
    const change = streamChanges(store, Date.now)
    expect(await change('acc/none', append('a'), { existing: true })).toBeUndefined()
    expect(puts).toHaveLength(0)
  })

  it('a failed write fails every change it held; the next turn still runs', async () => {
    const { store } = countingStore()
    let fail = true
    const failing: StreamStore = {
      ...store,
      put: (...args) => (fail ? Promise.reject(new Error('disk full')) : store.put(...args)),
    }
    const change = streamChanges(failing, Date.now)
    const held = [change('acc/s', append('a')), change('acc/s', append('b'))]
    for (const result of await Promise.allSettled(held))
      expect(result).toMatchObject({ status: 'rejected', reason: { message: 'disk full' } })
    fail = false
    expect((await change('acc/s', append('c')))!.record.streamName).toBe('c')
  })

  it('another writer in between: every change of the turn is applied again to what it left', async () => {
    const { store } = countingStore()
    const other = streamChanges(store, Date.now)
    await other('acc/s', append('0'))
    let raced = false
    const racing: StreamStore = {
      ...store,
      async put(streamId, record, expected, options) {
        if (!raced) {
          raced = true
          const current = await store.get(streamId)
          await store.put(streamId, { ...current!.record, streamName: 'X' }, current!.revision)
        }
        return store.put(streamId, record, expected, options)
      },
    }
    const change = streamChanges(racing, Date.now)
    await Promise.all([change('acc/s', append('a')), change('acc/s', append('b'))])
    expect((await store.get('acc/s'))!.record.streamName).toBe('Xab')
  })
})
