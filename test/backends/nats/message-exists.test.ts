/** messageExists: a yes or no from JetStream's message get, by sequence or by subject. */
import { expect, it } from 'vitest'
import { jetstream, jetstreamManager, type StreamConfig } from '@nats-io/jetstream'
import { messageExists } from '../../../src/backends/nats/message-exists.ts'
import { natsForTests } from './nats-for-tests.ts'

const server = natsForTests()

it('says whether a message is there, by sequence or last on a subject, and rejects for a missing stream', async () => {
  const nc = await server.connect()
  const jsm = await jetstreamManager(nc)
  await jsm.streams.add({ name: 'exists', subjects: ['exists.>'] } as Partial<StreamConfig> as StreamConfig)
  const stored = await jetstream(nc).publish('exists.a', 'x')
  const ctx = { nc, requestTimeoutMs: 5_000 }
  expect(await messageExists(ctx, 'exists', { seq: stored.seq })).toBe(true)
  expect(await messageExists(ctx, 'exists', { last_by_subj: 'exists.a' })).toBe(true)
  // "No message found" is an answer, not a rejection.
  expect(await messageExists(ctx, 'exists', { seq: stored.seq + 1 })).toBe(false)
  expect(await messageExists(ctx, 'exists', { last_by_subj: 'exists.b' })).toBe(false)
  await expect(messageExists(ctx, 'missing', { seq: 1 })).rejects.toThrow(/refused: 404/)
})
