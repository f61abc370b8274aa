/**
 * The local queue's dead letters: one file each under `dir/dead` (the event, its destination and every attempt),
 * and the inbox `dir/inbox`, where a replay drops them to be taken back into the log — by the running gateway
 * within a second, or by the next one to start. `hookcast replay` in another process only moves files.
 * @module
 */
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Attempt, DeadLetter, DeadLetterFilter } from '../../queue/types.ts'
import { matchesFilter } from '../../queue/dead-letter.ts'
import { decodeHeader, decodePrefix, decodeWhole, encodeRecord, PREFIX_BYTES } from './log-record.ts'
import type { EventMeta } from '../../queue/loaded-event.ts'

interface DeadHeader extends EventMeta {
  destination: string
  attempts: Attempt[]
  deadAt: number
}

export class DeadLetterFiles {
  readonly #dead: string
  readonly #inbox: string
  readonly #index = new Map<string, DeadLetter & { bytes: number }>()
  #bytes = 0

  constructor(dir: string) {
    this.#dead = join(dir, 'dead')
    this.#inbox = join(dir, 'inbox')
  }

  async open(): Promise<void> {
    await mkdir(this.#dead, { recursive: true })
    await mkdir(this.#inbox, { recursive: true })
    await this.refresh()
  }

  get count(): number {
    return this.#index.size
  }

  /** Bytes on disk: they count against the queue's size limit. */
  get bytes(): number {
    return this.#bytes
  }

  /** Writes a dead letter (temp file, then rename; synced first with `fsync`). */
  async write(header: DeadHeader, body: Uint8Array, fsync: boolean): Promise<void> {
    const name = `${header.id}.${header.destination}.dl`
    const temp = join(this.#dead, `${name}.tmp`)
    const handle = await open(temp, 'w')
    try {
      await handle.writev(encodeRecord('L', header, body))
      if (fsync) await handle.datasync()
    } finally {
      await handle.close()
    }
    await rename(temp, join(this.#dead, name))
    const letter = await this.#readHeader(name)
    if (letter) this.#add(name, letter)
  }

  async list(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    await this.refresh()
    return [...this.#index.values()]
      .filter((letter) => matchesFilter(letter, filter))
      .map(({ bytes: _bytes, ...letter }) => letter)
      .sort((a, b) => a.deadAt - b.deadAt)
  }

  /** Moves matching dead letters into the inbox; returns the inbox names. */
  async moveToInbox(filter: DeadLetterFilter = {}): Promise<string[]> {
    await this.refresh()
    const queued: string[] = []
    for (const [name, letter] of [...this.#index]) {
      if (!matchesFilter(letter, filter)) continue
      const inboxName = uniqueInboxName(name)
      this.#remove(name)
      if (
        await rename(join(this.#dead, name), join(this.#inbox, inboxName)).then(
          () => true,
          () => false,
        )
      )
        queued.push(inboxName)
    }
    return queued
  }

  /** Inbox files waiting to be taken back, oldest first. */
  async inbox(): Promise<string[]> {
    return (await readdir(this.#inbox)).filter((name) => name.endsWith('.dl')).sort()
  }

  /** The dead letter an inbox file holds; undefined (and the file moved aside) when it cannot be read. */
  async readInbox(name: string): Promise<{ header: DeadHeader; body: Uint8Array } | undefined> {
    const path = join(this.#inbox, name)
    const whole = decodeWhole<DeadHeader>(new Uint8Array(await readFile(path)))
    if (!whole) await rename(path, `${path}.corrupt`)
    return whole
  }

  async removeInbox(name: string): Promise<void> {
    await rm(join(this.#inbox, name), { force: true })
  }

  /** Brings the index in line with the directory (another process may have moved files away). */
  async refresh(): Promise<void> {
    const names = new Set((await readdir(this.#dead)).filter((name) => name.endsWith('.dl')))
    for (const name of [...this.#index.keys()]) if (!names.has(name)) this.#remove(name)
    for (const name of names) {
      if (this.#index.has(name)) continue
      const letter = await this.#readHeader(name)
      if (letter) this.#add(name, letter)
    }
  }

  #add(name: string, letter: DeadLetter & { bytes: number }): void {
    this.#remove(name)
    this.#index.set(name, letter)
    this.#bytes += letter.bytes
  }

  #remove(name: string): void {
    this.#bytes -= this.#index.get(name)?.bytes ?? 0
    this.#index.delete(name)
  }

  async #readHeader(name: string): Promise<(DeadLetter & { bytes: number }) | undefined> {
    const handle = await open(join(this.#dead, name), 'r').catch(() => undefined)
    if (!handle) return undefined
    try {
      const size = (await handle.stat()).size
      const head = new Uint8Array(Math.min(size, 64 * 1024))
      await handle.read(head, 0, head.byteLength, 0)
      const prefix = decodePrefix(head, 0)
      let bytes = head
      if (prefix && PREFIX_BYTES + prefix.headerLength > head.byteLength) {
        bytes = new Uint8Array(PREFIX_BYTES + prefix.headerLength)
        await handle.read(bytes, 0, bytes.byteLength, 0)
      }
      const header = prefix && decodeHeader<DeadHeader>(bytes, 0, prefix)
      if (!header) return undefined
      return {
        eventId: header.id,
        destination: header.destination,
        type: header.type,
        event: header.event,
        ...(header.streamId ? { streamId: header.streamId } : {}),
        receivedAt: header.receivedAt,
        deadAt: header.deadAt,
        attempts: header.attempts,
        bytes: size,
      }
    } finally {
      await handle.close()
    }
  }
}

/**
 * Queues dead letters for replay from another process (the CLI): moves their files into the inbox, where the
 * running gateway picks them up within a second, or the next one to start does. Returns how many were queued.
 */
export async function queueLocalReplay(
  dir: string,
  filter: DeadLetterFilter = {},
  onProgress?: (done: number, total: number) => void,
): Promise<number> {
  const deadDir = join(dir, 'dead')
  const inboxDir = join(dir, 'inbox')
  await mkdir(inboxDir, { recursive: true })
  const names = (await readdir(deadDir).catch(() => [] as string[])).filter((name) => {
    if (!name.endsWith('.dl')) return false
    const [eventId, destination] = name.slice(0, -3).split('.')
    return (
      (filter.eventId === undefined || filter.eventId === eventId) &&
      (filter.destination === undefined || filter.destination === destination)
    )
  })
  for (const [index, name] of names.entries()) {
    await rename(join(deadDir, name), join(inboxDir, uniqueInboxName(name)))
    onProgress?.(index + 1, names.length)
  }
  return names.length
}

/**
 * The inbox name of one replay of a dead letter: unique, so the same dead letter can be replayed any number of
 * times (its dead-letter name is the same each time it dies), and a name found in the log is a replay already taken.
 */
function uniqueInboxName(deadName: string): string {
  return `${deadName.slice(0, -3)}.${Date.now().toString(36)}${crypto.randomUUID().slice(0, 8)}.dl`
}
