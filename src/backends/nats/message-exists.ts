/**
 * Whether a JetStream stream holds a message (at a sequence, the last on a subject, or the next on one from a
 * sequence), asked on the core protocol. The client's message get builds an Error for every "no message found",
 * the usual answer when a copy's other deliveries are done, and decodes the message, neither of which a yes or no
 * (or a sequence) needs.
 * @module
 */
import type { NatsContext } from './queue-context.ts'

interface GetReply {
  message?: { subject: string; seq: number }
  error?: { code?: number; err_code?: number; description?: string }
}

type Query = { seq: number } | { last_by_subj: string } | { seq: number; next_by_subj: string }

/** JetStream's error code for "no message found". */
const NO_MESSAGE_FOUND = 10037

/** The message's subject and sequence, or undefined when the stream holds none that matches. */
export async function findMessage(
  ctx: Pick<NatsContext, 'nc' | 'requestTimeoutMs'>,
  jetStream: string,
  query: Query,
): Promise<{ subject: string; seq: number } | undefined> {
  const answer = await ctx.nc.request(`$JS.API.STREAM.MSG.GET.${jetStream}`, JSON.stringify(query), {
    timeout: ctx.requestTimeoutMs,
  })
  const reply = JSON.parse(new TextDecoder().decode(answer.data)) as GetReply
  if (reply.message) return { subject: reply.message.subject, seq: reply.message.seq }
  if (reply.error?.err_code === NO_MESSAGE_FOUND) return undefined
  throw new Error(`message get from ${jetStream} refused: ${reply.error?.code} ${reply.error?.description}`)
}

export async function messageExists(
  ctx: Pick<NatsContext, 'nc' | 'requestTimeoutMs'>,
  jetStream: string,
  query: Query,
): Promise<boolean> {
  return (await findMessage(ctx, jetStream, query)) !== undefined
}
