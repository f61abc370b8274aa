/**
 * Dead letters replayed into the local queue: a replay moves dead-letter files into the inbox (this process's
 * `replay`, or `hookcast replay` in another), and each is taken back into the log as a pending delivery, its file
 * removed after.
 * @module
 */
import type { DeadLetterFilter } from '../../queue/types.ts'
import type { LocalQueueContext } from './queue-context.ts'
import { appendEvent } from './event-records.ts'

/** `Queue.replay`: matching dead letters go through the inbox at once. */
export function replayDeadLetters(ctx: LocalQueueContext, filter: DeadLetterFilter): Promise<number> {
  return inTurn(ctx, async () => {
    let count = 0
    for (const name of await ctx.dead.moveToInbox(filter)) count += await pickUp(ctx, name)
    return count
  })
}

/** Takes back whatever waits in the inbox (at start, and at each maintenance); a file that fails is logged and left. */
export function drainInbox(ctx: LocalQueueContext): Promise<number> {
  return inTurn(ctx, () => drainNow(ctx))
}

/** Runs `work` once the inbox work before it is over (whether it succeeded or not). */
function inTurn<T>(ctx: LocalQueueContext, work: () => Promise<T>): Promise<T> {
  const run = ctx.inboxTurn.then(work, work)
  ctx.inboxTurn = run.catch(() => {})
  return run
}

async function drainNow(ctx: LocalQueueContext): Promise<number> {
  let count = 0
  const names = await ctx.dead.inbox()
  // The CLI moved these out of the dead letters: the index says so before the deliveries show up again.
  if (names.length > 0) await ctx.dead.refresh()
  for (const name of names) {
    count += await pickUp(ctx, name).catch((error) => {
      ctx.log.error('replay failed', { file: name, error: String(error) })
      return 0
    })
  }
  return count
}

/**
 * Takes one replayed dead letter back from the inbox. A name already recorded in the log is a replay appended
 * before a crash whose file was left behind.
 */
async function pickUp(ctx: LocalQueueContext, name: string): Promise<number> {
  const { dead, replayed } = ctx
  if (replayed.has(name)) {
    await dead.removeInbox(name)
    replayed.delete(name)
    return 0
  }
  const whole = await dead.readInbox(name)
  if (!whole) {
    ctx.log.error('unreadable replay file; moved aside', { file: name })
    return 0
  }
  const { destination, attempts: _attempts, deadAt: _deadAt, ...meta } = whole.header
  await appendEvent(
    ctx,
    { ...meta, deliveries: { [destination]: { since: ctx.now(), attempts: [], nextAt: 0 } }, replay: name },
    whole.body,
  )
  await dead.removeInbox(name)
  replayed.delete(name)
  return 1
}
