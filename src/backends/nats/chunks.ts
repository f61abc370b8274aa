/**
 * Bodies larger than one NATS message: a stock nats-server takes at most 1 MB per message (`max_payload`), less than
 * hookcast's default largest body. Such a body is stored first as chunks in `<prefix>-chunks`, all under one subject
 * of their own, and the message that carries it (an event's copy, a dead letter) is stored last with an empty payload
 * and a header naming the chunks: a put cut off between chunks leaves no copy, so no delivery ever reads part of a
 * body. The chunks go with the copy (purged by their subject), or with the orphan sweep.
 * @module
 */
import { headers, type MsgHdrs } from '@nats-io/transport-node'
import type { NatsContext } from './queue-context.ts'
import { HEADER_ROOM_BYTES } from './messages.ts'
import { isNotFound } from './jetstream-setup.ts'

/** Where a body's chunks are: their subject, their sequences in order, and the body's size. */
export interface ChunkRef {
  subject: string
  seqs: number[]
  bytes: number
}

const CHUNKS_HEADER = 'Hookcast-Chunks'
/** On each chunk: the subject of the message that names it (an event's copy, a dead letter), for the sweep. */
const OWNER_HEADER = 'Hookcast-Chunk-Of'

/** The largest part of a body one message carries beside its headers on this server. */
function chunkBytes(ctx: Pick<NatsContext, 'nc'>): number {
  return Math.max(4_096, (ctx.nc.info?.max_payload ?? 1_048_576) - HEADER_ROOM_BYTES)
}

/** Whether `body` goes in chunks on this server. */
export function needsChunks(ctx: Pick<NatsContext, 'nc'>, body: Uint8Array): boolean {
  return body.byteLength > chunkBytes(ctx)
}

/** Stores `body` as chunks under a subject of their own, for the message at `owner`; resolves once all are stored. */
export async function writeChunks(
  ctx: NatsContext,
  body: Uint8Array,
  owner: string,
  timeoutMs: number,
): Promise<ChunkRef> {
  const subject = `${ctx.names.prefix}.chunks.${crypto.randomUUID().replaceAll('-', '')}`
  const size = chunkBytes(ctx)
  const seqs: number[] = []
  const h = headers()
  h.set(OWNER_HEADER, owner)
  try {
    // One after the other, so the sequences are in the body's order and a server busy with a big body is not
    // handed all of it at once.
    for (let at = 0; at < body.byteLength; at += size) {
      const stored = await ctx.js.publish(subject, body.subarray(at, at + size), { headers: h, timeout: timeoutMs })
      seqs.push(stored.seq)
    }
  } catch (error) {
    await purgeChunks(ctx, subject).catch(() => {}) // what a crash leaves instead, the sweep removes
    throw error
  }
  return { subject, seqs, bytes: body.byteLength }
}

/** The body `ref` names, whole; rejects when a chunk is missing or the sizes do not add up (never part of it). */
async function readChunks(ctx: NatsContext, ref: ChunkRef): Promise<Uint8Array> {
  const jetStream = ctx.names.jetStreams.chunks
  const parts = await Promise.all(
    ref.seqs.map(async (seq) => {
      // Direct Get may reach a replica that has not applied the chunk yet: the leader is asked then.
      const found =
        (ctx.directGet ? await ctx.jsm.direct.getMessage(jetStream, { seq }) : null) ??
        (await ctx.jsm.streams.getMessage(jetStream, { seq }))
      if (!found || found.subject !== ref.subject) throw new Error(`chunk ${seq} of ${ref.subject} is missing`)
      return found.data
    }),
  )
  const body = new Uint8Array(ref.bytes)
  let at = 0
  for (const part of parts) {
    if (at + part.byteLength > ref.bytes) throw new Error(`the chunks of ${ref.subject} are larger than the body`)
    body.set(part, at)
    at += part.byteLength
  }
  if (at !== ref.bytes) throw new Error(`the chunks of ${ref.subject} hold ${at} of ${ref.bytes} bytes`)
  return body
}

/** Removes a body's chunks (all of its subject). */
export async function purgeChunks(ctx: NatsContext, subject: string): Promise<void> {
  await ctx.jsm.streams.purge(ctx.names.jetStreams.chunks, { filter: subject }).catch((error: unknown) => {
    if (!isNotFound(error)) throw error
  })
}

export function setChunkRef(h: MsgHdrs, ref: ChunkRef): void {
  h.set(CHUNKS_HEADER, JSON.stringify(ref))
}

export function readChunkRef(h: MsgHdrs | undefined): ChunkRef | undefined {
  const raw = h?.get(CHUNKS_HEADER)
  if (!raw) return undefined
  try {
    const ref = JSON.parse(raw) as ChunkRef
    const valid =
      typeof ref.subject === 'string' &&
      Number.isSafeInteger(ref.bytes) &&
      Array.isArray(ref.seqs) &&
      ref.seqs.every((seq) => Number.isSafeInteger(seq))
    return valid ? ref : undefined
  } catch {
    return undefined
  }
}

/** A stored message's body: its payload, or the chunks its header names. */
export async function bodyOf(ctx: NatsContext, h: MsgHdrs | undefined, data: Uint8Array): Promise<Uint8Array> {
  const ref = readChunkRef(h)
  // A copy of its own: a Direct Get's data is a view into the client's read buffer (a Buffer, larger than it).
  return ref ? readChunks(ctx, ref) : new Uint8Array(data)
}

/** The subject of the message a chunk belongs to. */
export function ownerOf(h: MsgHdrs | undefined): string | undefined {
  return h?.get(OWNER_HEADER) || undefined
}
