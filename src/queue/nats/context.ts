/**
 * What the NATS queue's parts share: the connection, its JetStream clients, the names, and the timeouts.
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
}
