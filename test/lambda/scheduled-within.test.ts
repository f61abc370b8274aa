/**
 * `HOOKCAST_SCHEDULED_WITHIN`: how long a scheduled run of the Lambda entry may make deliveries
 * (serverless/serverless-gateway.ts `scheduledDeadline`). The run stops at that time even when the function has far longer
 * left, giving back a delivery still under way; the function's own time less 5 s still bounds it; a malformed
 * value stops the function from starting, naming the variable.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { createLambda } from '../../adapters/lambda.ts'
import { ConfigError } from '../../src/config/load.ts'
import { silentLogger } from '../../src/log.ts'
import { scheduledDeadline } from '../../src/serverless/serverless-gateway.ts'
import { PAYLOADS, SECRET, signedJson } from '../support/hooks.ts'
import { tempDir } from '../support/files.ts'
import { startReceiver } from '../support/receiver.ts'
import { functionUrlEvent, lambdaContext, scheduleEvent } from './events.ts'

let cleanup: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const step of cleanup.reverse()) await step()
  cleanup = []
})

/** A signed hook through a Function URL event. */
async function invokeHook(lambda: ReturnType<typeof createLambda>): Promise<{ statusCode: number; body: string }> {
  const hook = await signedJson({ ...PAYLOADS.transcoderActive, timestamp: Date.now() })
  const event = functionUrlEvent('/hooks/millicast', hook)
  return (await lambda.handler(event as never, lambdaContext(30_000))) as { statusCode: number; body: string }
}

describe('scheduledDeadline', () => {
  it("is HOOKCAST_SCHEDULED_WITHIN after the start, or 5 s before the function's time ends if sooner", () => {
    expect(scheduledDeadline({ HOOKCAST_SCHEDULED_WITHIN: '20s' }, 1_000, 60_000)).toBe(21_000)
    expect(scheduledDeadline({ HOOKCAST_SCHEDULED_WITHIN: '2m' }, 1_000, 60_000)).toBe(56_000)
    expect(scheduledDeadline({}, 1_000, 60_000)).toBe(56_000)
    expect(scheduledDeadline({ HOOKCAST_SCHEDULED_WITHIN: '' }, 1_000, 60_000)).toBe(56_000)
    expect(scheduledDeadline({ HOOKCAST_SCHEDULED_WITHIN: '20s' }, 1_000, 3_000)).toBe(1_000) // never in the past
    const malformed = () => scheduledDeadline({ HOOKCAST_SCHEDULED_WITHIN: 'soon' }, 0, 60_000)
    expect(malformed).toThrow(ConfigError)
    expect(malformed).toThrow(/\$HOOKCAST_SCHEDULED_WITHIN/)
  })
})

describe('a scheduled run with HOOKCAST_SCHEDULED_WITHIN', () => {
  it('stops at that time though the function has minutes left, giving back the delivery under way', async () => {
    const dir = tempDir('hookcast-scheduled-within-')
    const receiver = await startReceiver()
    receiver.answer = () => new Promise(() => {}) // a receiver that never answers
    const lambda = createLambda(
      {
        HOOKCAST_CONFIG_YAML: `
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
notifiers:
  hook: { type: http, url: "${receiver.url}/in" }
routes:
  - to: [hook]
spool: { dir: "${join(dir.path, 'spool')}" }
delivery: { timeout: 20s }
`,
        HOOKCAST_DELIVER_WITHIN: '0s', // the request leaves its delivery to the schedule
        HOOKCAST_SCHEDULED_WITHIN: '3s', // time enough to claim the delivery on a busy machine
      },
      { log: silentLogger },
    )
    cleanup.push(async () => {
      await lambda.close()
      await receiver.close()
      dir.remove()
    })

    const answer = await invokeHook(lambda)
    expect(answer.statusCode).toBe(200)

    const started = Date.now()
    const report = await lambda.scheduled(scheduleEvent(), lambdaContext(10 * 60_000))
    expect(receiver.requests.filter((request) => request.at >= started)).toHaveLength(1) // the run did take it up
    // Without the variable the run would have kept it until the delivery timeout (20 s), and retried it.
    expect(report).toMatchObject({ delivered: 0, retried: 0, dead: 0, released: 1 })
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_900) // not before the time given
  })

  it('a malformed value keeps the function from starting, and says which variable', async () => {
    const dir = tempDir('hookcast-scheduled-within-')
    const lambda = createLambda(
      {
        HOOKCAST_CONFIG_YAML: `
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
spool: { dir: "${join(dir.path, 'spool')}" }
`,
        HOOKCAST_SCHEDULED_WITHIN: 'a minute',
      },
      { log: silentLogger },
    )
    cleanup.push(async () => {
      await lambda.close()
      dir.remove()
    })
    const errors: string[] = []
    const original = console.error
    console.error = (line: unknown) => {
      errors.push(String(line))
    }
    try {
      const run = lambda.scheduled(scheduleEvent(), lambdaContext(60_000))
      await expect(run).rejects.toThrow(/\$HOOKCAST_SCHEDULED_WITHIN/)
      const answer = await invokeHook(lambda)
      expect(answer.statusCode).toBe(500) // hooks too: the function does not start with it
      expect(answer.body).toContain('not_configured')
    } finally {
      console.error = original
    }
    expect(errors.join('\n')).toContain('HOOKCAST_SCHEDULED_WITHIN')
  })
})
