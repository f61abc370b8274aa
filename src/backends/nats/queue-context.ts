/**
 * What the NATS queue's parts share, so each part is functions over one context rather than closures in one
 * factory: the connection and its JetStream clients, the names, the timeouts, and the consumers made so far.
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
  /** Each destination's durable consumer, made (or updated) once per process. */
  consumers: { ensure(destination: string): Promise<void>; forget(destination: string): void }
  log: Logger
  now: () => number
  /** Longest wait for the server to answer anything but a put, ms. */
  requestTimeoutMs: number
  /** Whether the events JetStream stream allows Direct Get: servers before 2.9 do not. */
  directGet: boolean
}

/** Set by the queue, read by its parts: `up` follows the connection, `closed` is set once by `close`. */
export interface QueueState {
  up: boolean
  closed: boolean
}
