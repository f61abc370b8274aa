/**
 * What the NATS queue's parts share: the connection, its JetStream clients, the names, the timeouts, whether the
 * queue is usable right now, and two small helpers.
 * @module
 */
import type { NatsConnection } from '@nats-io/transport-node'
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream'
import type { Logger } from '../../log.ts'
import type { NatsNames } from './names.ts'

export interface NatsContext {
  nc: NatsConnection
  js: JetStreamClient
  jsm: JetStreamManager
  names: NatsNames
  consumers: { ensure(destination: string): Promise<void>; forget(destination: string): void }
  log: Logger
  now: () => number
  /** Longest wait for the server to answer anything but a put, ms. */
  requestTimeoutMs: number
  /** Whether the events stream allows Direct Get (event-copies.ts): servers before 2.9 do not. */
  directGet: boolean
}

/** Kept by queue.ts and read by the parts: `up` follows the connection, `closed` is set once by `close`. */
export interface QueueState {
  up: boolean
  closed: boolean
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
