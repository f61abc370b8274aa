/**
 * What the NATS queue's parts share: the connection, its JetStream clients, the names, the timeouts, whether the
 * queue is usable right now, and two small helpers.
 * @module
 */
import type { NatsConnection } from '@nats-io/transport-node'
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream'
import type { Logger } from '../../log.ts'
import type { NatsNames } from './queue-names.ts'

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
