/**
 * Whether a JetStream stream holds a message (at a sequence, or the last on a subject), asked on the core protocol.
 * The client's message get builds an Error for every "no message found", the usual answer when a copy's other
 * deliveries are done, and decodes the message, neither of which a yes or no needs.
 * @module
 */
import type { NatsContext } from './queue-context.ts'

interface GetReply {
  message?: unknown
  error?: { code?: number; err_code?: number; description?: string }
}

/** JetStream's error code for "no message found". */
const NO_MESSAGE_FOUND = 10037

export async function messageExists(
  ctx: Pick<NatsContext, 'nc' | 'requestTimeoutMs'>,
  jetStream: string,
  query: { seq: number } | { last_by_subj: string },
): Promise<boolean> {
  const answer = await ctx.nc.request(`$JS.API.STREAM.MSG.GET.${jetStream}`, JSON.stringify(query), {
    timeout: ctx.requestTimeoutMs,
  })
  const reply = JSON.parse(new TextDecoder().decode(answer.data)) as GetReply
  if (reply.message) return true
  if (reply.error?.err_code === NO_MESSAGE_FOUND) return false
  throw new Error(`message get from ${jetStream} refused: ${reply.error?.code} ${reply.error?.description}`)
}
