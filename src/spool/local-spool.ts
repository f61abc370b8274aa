/**
 * The embedded spool: events and their delivery state in a segment log under `dir`, dead letters as one file
 * each under `dir/dead`, and replays queued by other processes (the CLI) as files dropped into `dir/inbox`.
 *
 * Guarantees: an event is on disk before `append` resolves (in the page cache, so it survives a killed process;
 * with `fsync`, on the device, so it survives power loss). Delivery state is appended as it changes, so a restart
 * resumes every pending delivery; a delivery that succeeded just before a crash may be made once more
 * (at-least-once), which the sinks' deterministic keys turn into an overwrite.
 * @module
 */
import { createHash } from 'node:crypto'
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { HookEvent } from '../events/types.ts'
import { OutboxFullError } from '../outbox/types.ts'
import { decodeWhole, encodeRecord, PREFIX_BYTES, decodePrefix, decodeHeader } from '../queue/local/record.ts'
import { openSegmentLog, type ScannedRecord, type SegmentLog } from '../queue/local/segment-log.ts'
import type { Attempt, DeadLetter, DeadLetterFilter, PendingDelivery, SpoolStats, SpoolStore } from './types.ts'
import type { Logger } from '../log.ts'
import { lockDir } from '../queue/local/dir-lock.ts'

export interface LocalSpoolOptions {
  dir: string
  fsync: boolean
  /** Refuse new events (503) once the spool holds this many bytes. */
  maxBytes: number
  segmentBytes: number
  /**
   * Bodies of pending events kept in memory up to this many bytes; the rest are read back from disk. Bodies over
   * CACHE_LARGEST are always read back: a burst of large thumbnails already holds one copy of each in flight.
   */
  cacheBytes: number
  log: Logger
  now?: () => number
}

/** An event as the spool keeps it: everything but the body and the parsed data. */
type EventMeta = Omit<HookEvent, 'body' | 'data'>

interface DeliveryState { since: number; attempts: Attempt[]; nextAt: number }

/** Header of an E record: the event, and the state of each delivery still pending for it. */
interface EventHeader extends EventMeta {
  deliveries: Record<string, DeliveryState>
  /** Name of the inbox file this record replays, so a crash before the file is removed does not replay twice. */
  replay?: string
}

interface DeadHeader extends EventMeta {
  destination: string
  attempts: Attempt[]
  deadAt: number
}

interface StoredEvent {
  meta: EventMeta
  segment: number
  bodyOffset: number
  bodyLength: number
  body: Uint8Array | undefined
  deliveries: Map<string, PendingDelivery>
  /** Destinations of deliveries of it under way (between `load` and their outcome): it is not copied forward meanwhile. */
  busy: Set<string>
  /** A body read back from disk, shared by the deliveries under way (one read and hash check for all). */
  loaded?: Uint8Array
  reading?: Promise<Uint8Array>
}

const MAINTENANCE_MS = 1000
/** Larger bodies are not cached: reading one back (page cache, hash check) costs less than holding many in memory. */
const CACHE_LARGEST = 256 * 1024
const decoder = new TextDecoder()
/**
 * A segment whose few remaining events hold it back (at most this many, none of them delivered since the last
 * maintenance) is emptied by copying them forward. A backlog being delivered is left alone, not rewritten.
 */
const FORWARD_AT_MOST = 1024

export async function openLocalSpool(options: LocalSpoolOptions): Promise<SpoolStore> {
  const now = options.now ?? Date.now
  const { log } = options
  const deadDir = join(options.dir, 'dead')
  const inboxDir = join(options.dir, 'inbox')
  await mkdir(deadDir, { recursive: true })
  await mkdir(inboxDir, { recursive: true })
  const lock = await lockDir(options.dir, {
    onWait: (pid) => log.warn('spool is locked by another process; waiting for it to exit', { dir: options.dir, pid }),
  })

  const events = new Map<string, StoredEvent>()
  const live = new Map<number, number>() // segment -> events whose newest record is in it
  const replayed = new Set<string>()
  let pendingDeliveries = 0
  let cachedBytes = 0
  let closed = false
  const listeners: Array<(deliveries: PendingDelivery[]) => void> = []

  const deliveryOf = (eventId: string, destination: string, receivedAt: number, state: DeliveryState): PendingDelivery => ({
    eventId, destination, receivedAt, since: state.since, attempts: state.attempts, nextAt: state.nextAt,
  })

  /** Adds an E record's event (or merges it into the same event already pending). Returns new deliveries. */
  function place(header: EventHeader, segment: number, bodyOffset: number, bodyLength: number, body?: Uint8Array): PendingDelivery[] {
    const { deliveries, replay, ...meta } = header
    if (replay) replayed.add(replay)
    let stored = events.get(meta.id)
    if (stored) {
      live.set(stored.segment, live.get(stored.segment)! - 1)
      Object.assign(stored, { segment, bodyOffset, bodyLength })
    } else {
      stored = { meta, segment, bodyOffset, bodyLength, body: undefined, deliveries: new Map(), busy: new Set() }
      events.set(meta.id, stored)
    }
    live.set(segment, (live.get(segment) ?? 0) + 1)
    if (body && !stored.body && body.byteLength <= CACHE_LARGEST && cachedBytes + body.byteLength <= options.cacheBytes) {
      stored.body = body
      cachedBytes += body.byteLength
    }
    const added: PendingDelivery[] = []
    for (const [destination, state] of Object.entries(deliveries)) {
      if (stored.deliveries.has(destination)) continue
      const delivery = deliveryOf(meta.id, destination, meta.receivedAt, state)
      stored.deliveries.set(destination, delivery)
      pendingDeliveries++
      added.push(delivery)
    }
    return added
  }

  /** Forgets a delivery; forgets the event once it has none left. */
  function resolve(eventId: string, destination: string): void {
    const stored = events.get(eventId)
    if (!stored?.deliveries.delete(destination)) return
    pendingDeliveries--
    if (stored.deliveries.size > 0) return
    events.delete(eventId)
    live.set(stored.segment, live.get(stored.segment)! - 1)
    if (stored.body) cachedBytes -= stored.body.byteLength
  }

  /** The end of a delivery attempt that began with `load` (idempotent: an outcome recorded twice settles once). */
  function settle(delivery: PendingDelivery): void {
    const stored = events.get(delivery.eventId)
    if (!stored) return
    stored.busy.delete(delivery.destination)
    if (stored.busy.size === 0) stored.loaded = undefined
  }

  function onRecord(record: ScannedRecord): void {
    const header = record.header as Record<string, unknown>
    if (record.kind === 'E') {
      place(header as unknown as EventHeader, record.ref.segment, record.bodyOffset, record.bodyLength)
    } else if (record.kind === 'D' || record.kind === 'X') {
      resolve(header.id as string, header.destination as string)
    } else if (record.kind === 'A') {
      const delivery = events.get(header.id as string)?.deliveries.get(header.destination as string)
      if (delivery) {
        if (header.attempt) delivery.attempts.push(header.attempt as Attempt) // absent for a deferral
        delivery.nextAt = header.nextAt as number
      }
    }
  }

  const segmentLog: SegmentLog = await openSegmentLog(
    { dir: join(options.dir, 'segments'), fsync: options.fsync, segmentBytes: options.segmentBytes, warn: log.warn },
    onRecord,
  )
  const recovered = [...events.values()].flatMap((stored) => [...stored.deliveries.values()])
  if (recovered.length > 0) log.info('spool recovered pending deliveries', { deliveries: recovered.length, events: events.size })

  const deadIndex = new Map<string, DeadLetter & { bytes: number }>()
  let deadBytes = 0
  const indexDead = (name: string, letter: DeadLetter & { bytes: number }) => {
    unindexDead(name)
    deadIndex.set(name, letter)
    deadBytes += letter.bytes
  }
  const unindexDead = (name: string) => {
    deadBytes -= deadIndex.get(name)?.bytes ?? 0
    deadIndex.delete(name)
  }

  async function appendEvent(header: EventHeader, body: Uint8Array): Promise<PendingDelivery[]> {
    const parts = encodeRecord('E', header, body)
    const size = parts.reduce((n, p) => n + p.byteLength, 0)
    // Dead letters count too: they wait on the same disk until someone replays or removes them.
    if (segmentLog.totalBytes() + deadBytes + size > options.maxBytes) {
      throw new OutboxFullError(`spool is full (spool.maxBytes = ${options.maxBytes})`)
    }
    let ref
    try {
      ref = await segmentLog.append(parts)
    } catch (error) {
      log.error('spool write failed', { error: String((error as Error).message ?? error) })
      throw new OutboxFullError(`spool write failed: ${(error as Error).message}`)
    }
    const bodyOffset = ref.offset + parts[0]!.byteLength
    return place(header, ref.segment, bodyOffset, body.byteLength, body)
  }

  async function appendState(kind: 'D' | 'A' | 'X', header: Record<string, unknown>): Promise<void> {
    // Delivered and failed-attempt records are not synced on their own (they ride along with the next sync):
    // losing one with the page cache only makes a delivery again. A move to the dead letters is synced.
    await segmentLog.append(encodeRecord(kind, header), kind === 'X')
  }

  async function bodyOf(stored: StoredEvent): Promise<Uint8Array> {
    if (stored.body) return stored.body
    if (stored.loaded) return stored.loaded
    // The deliveries of an event to its destinations start together: they share one read.
    stored.reading ??= readBack(stored).finally(() => { stored.reading = undefined })
    const body = await stored.reading
    if (stored.busy.size > 0) stored.loaded = body
    return body
  }

  async function readBack(stored: StoredEvent): Promise<Uint8Array> {
    const body = await segmentLog.read(stored.segment, stored.bodyOffset, stored.bodyLength)
    const digest = createHash('sha256').update(body).digest('hex')
    if (digest !== stored.meta.bodySha256) throw new Error(`spool record of event ${stored.meta.id} is corrupt (body hash differs)`)
    return body
  }

  /** Deletes segments nothing refers to any more, oldest first (a newer segment may hold state of older events). */
  async function dropResolvedSegments(): Promise<void> {
    for (const segment of segmentLog.segments()) {
      if (segment === segmentLog.current() || (live.get(segment) ?? 0) > 0) return
      live.delete(segment)
      await segmentLog.deleteSegment(segment)
    }
  }

  let lastOldest: { segment: number; count: number } | undefined

  /** Copies the few events still pending in the oldest segment forward, so the segment can be deleted. */
  async function forwardStragglers(): Promise<void> {
    const oldest = segmentLog.segments()[0]
    if (oldest === undefined || oldest === segmentLog.current()) return
    const count = live.get(oldest) ?? 0
    const stuck = lastOldest?.segment === oldest && count >= lastOldest.count
    lastOldest = { segment: oldest, count }
    if (count === 0 || count > FORWARD_AT_MOST || !stuck) return
    for (const stored of [...events.values()].filter((e) => e.segment === oldest && e.busy.size === 0)) {
      if (closed) return
      const body = await bodyOf(stored).catch(() => undefined)
      if (!body || stored.segment !== oldest) continue
      const deliveries: Record<string, DeliveryState> = {}
      for (const [name, d] of stored.deliveries) deliveries[name] = { since: d.since, attempts: d.attempts, nextAt: d.nextAt }
      await appendEvent({ ...stored.meta, deliveries }, body)
    }
  }

  async function readDeadHeader(name: string, dir = deadDir): Promise<(DeadLetter & { bytes: number }) | undefined> {
    const handle = await open(join(dir, name), 'r').catch(() => undefined)
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
        eventId: header.id, destination: header.destination, type: header.type, event: header.event,
        ...(header.streamId ? { streamId: header.streamId } : {}),
        receivedAt: header.receivedAt, deadAt: header.deadAt, attempts: header.attempts, bytes: size,
      }
    } finally {
      await handle.close()
    }
  }

  /** Brings the dead-letter index in line with the directory (the CLI may have moved files away). */
  async function refreshDeadIndex(): Promise<void> {
    const names = new Set((await readdir(deadDir)).filter((name) => name.endsWith('.dl')))
    for (const name of [...deadIndex.keys()]) if (!names.has(name)) unindexDead(name)
    for (const name of names) {
      if (deadIndex.has(name)) continue
      const letter = await readDeadHeader(name)
      if (letter) indexDead(name, letter)
    }
  }

  /**
   * Re-accepts one replayed dead letter from the inbox. Inbox names are unique per replay (see `inboxName`), so a
   * name already recorded in the log is a replay appended before a crash, whose file was left behind.
   */
  async function pickUp(name: string): Promise<PendingDelivery[]> {
    const path = join(inboxDir, name)
    if (replayed.has(name)) {
      await rm(path, { force: true })
      replayed.delete(name)
      return []
    }
    const whole = decodeWhole<DeadHeader>(new Uint8Array(await readFile(path)))
    if (!whole) {
      log.error('unreadable replay file; moved aside', { file: name })
      await rename(path, `${path}.corrupt`)
      return []
    }
    const { destination, attempts: _attempts, deadAt: _deadAt, ...meta } = whole.header
    const added = await appendEvent({ ...meta, deliveries: { [destination]: { since: now(), attempts: [], nextAt: 0 } }, replay: name }, whole.body)
    await rm(path, { force: true })
    replayed.delete(name)
    return added
  }

  async function drainInbox(): Promise<PendingDelivery[]> {
    const names = (await readdir(inboxDir)).filter((name) => name.endsWith('.dl')).sort()
    const added: PendingDelivery[] = []
    for (const name of names) added.push(...await pickUp(name).catch((error) => {
      log.error('replay failed', { file: name, error: String(error) })
      return []
    }))
    return added
  }

  await refreshDeadIndex()
  recovered.push(...await drainInbox())

  let maintaining: Promise<void> | undefined
  const timer = setInterval(() => {
    if (maintaining || closed) return
    maintaining = (async () => {
      const added = await drainInbox()
      if (added.length > 0) {
        await refreshDeadIndex() // the CLI moved these out of the dead letters
        for (const listener of listeners) listener(added)
      }
      await forwardStragglers()
      await dropResolvedSegments()
    })().catch((error) => log.error('spool maintenance failed', { error: String(error) })).finally(() => { maintaining = undefined })
  }, MAINTENANCE_MS)
  ;(timer as { unref?: () => void }).unref?.()

  return {
    async append(event, destinations) {
      if (closed) throw new OutboxFullError('spool is closed')
      const deliveries: Record<string, DeliveryState> = {}
      for (const name of destinations) deliveries[name] = { since: event.receivedAt, attempts: [], nextAt: 0 }
      const { body, data: _data, ...meta } = event
      return appendEvent({ ...meta, deliveries }, body)
    },
    recovered: () => recovered,
    async load(eventId, destination) {
      const stored = events.get(eventId)
      if (!stored) throw new Error(`event ${eventId} is not pending in the spool`)
      stored.busy.add(destination)
      const body = await bodyOf(stored)
      const event: HookEvent = { ...stored.meta, body }
      if (stored.meta.contentType === 'application/json') {
        const data = (JSON.parse(decoder.decode(body)) as { data?: Record<string, unknown> }).data
        if (data) event.data = data
      }
      return event
    },
    async delivered(delivery) {
      settle(delivery)
      await appendState('D', { id: delivery.eventId, destination: delivery.destination })
      resolve(delivery.eventId, delivery.destination)
      await dropResolvedSegments()
    },
    async failed(delivery, attempted = true) {
      settle(delivery)
      const attempt = attempted ? delivery.attempts.at(-1) : undefined
      await appendState('A', { id: delivery.eventId, destination: delivery.destination, ...(attempt ? { attempt } : {}), nextAt: delivery.nextAt })
    },
    async dead(delivery) {
      settle(delivery)
      const stored = events.get(delivery.eventId)
      if (!stored) return
      const header: DeadHeader = { ...stored.meta, destination: delivery.destination, attempts: delivery.attempts, deadAt: now() }
      const name = `${delivery.eventId}.${delivery.destination}.dl`
      const bytes = encodeRecord('L', header, await bodyOf(stored))
      const temp = join(deadDir, `${name}.tmp`)
      const handle = await open(temp, 'w')
      try {
        await handle.writev(bytes)
        if (options.fsync) await handle.datasync()
      } finally {
        await handle.close()
      }
      await rename(temp, join(deadDir, name))
      await appendState('X', { id: delivery.eventId, destination: delivery.destination })
      resolve(delivery.eventId, delivery.destination)
      const letter = await readDeadHeader(name)
      if (letter) indexDead(name, letter)
      await dropResolvedSegments()
    },
    async deadLetters(filter = {}) {
      await refreshDeadIndex()
      return [...deadIndex.values()].filter((letter) => matches(letter, filter)).map(({ bytes: _bytes, ...letter }) => letter)
        .sort((a, b) => a.deadAt - b.deadAt)
    },
    async replay(filter = {}, onProgress) {
      await refreshDeadIndex()
      const names = [...deadIndex.entries()].filter(([, letter]) => matches(letter, filter)).map(([name]) => name)
      const added: PendingDelivery[] = []
      for (const [index, name] of names.entries()) {
        const queued = inboxName(name)
        unindexDead(name)
        const moved = await rename(join(deadDir, name), join(inboxDir, queued)).then(() => true, () => false)
        if (moved) added.push(...await pickUp(queued))
        onProgress?.(index + 1, names.length)
      }
      return added
    },
    onPending(listener) {
      listeners.push(listener)
    },
    stats(): SpoolStats {
      let oldest = Infinity
      for (const stored of events.values()) oldest = Math.min(oldest, stored.meta.receivedAt)
      return {
        pendingEvents: events.size,
        pendingDeliveries,
        deadLetters: deadIndex.size,
        bytes: segmentLog.totalBytes() + deadBytes,
        oldestPendingAgeMs: oldest === Infinity ? 0 : Math.max(0, now() - oldest),
      }
    },
    async close() {
      if (closed) return
      closed = true
      clearInterval(timer)
      await maintaining // it may be appending (a replay, a straggler copied forward)
      await segmentLog.close()
      await lock.release()
    },
  }
}

function matches(letter: DeadLetter, filter: DeadLetterFilter): boolean {
  return (filter.eventId === undefined || letter.eventId === filter.eventId) &&
    (filter.destination === undefined || letter.destination === filter.destination)
}

/**
 * Queues dead letters for replay from another process (the CLI): moves their files into the inbox, where the
 * running gateway picks them up within a second, or the next one to start does. Returns how many were queued.
 */
export async function queueReplay(
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
    return (filter.eventId === undefined || filter.eventId === eventId) && (filter.destination === undefined || filter.destination === destination)
  })
  for (const [index, name] of names.entries()) {
    await rename(join(deadDir, name), join(inboxDir, inboxName(name)))
    onProgress?.(index + 1, names.length)
  }
  return names.length
}

/**
 * The inbox name of one replay of a dead letter: unique, so the same dead letter can be replayed any number of
 * times (its dead-letter name is the same each time it dies).
 */
function inboxName(deadName: string): string {
  return `${deadName.slice(0, -3)}.${Date.now().toString(36)}${crypto.randomUUID().slice(0, 8)}.dl`
}
