/**
 * Sink types by name. The config union (config/sinks.ts) and this table check each other: a sink type without a
 * factory, or a factory without a config schema, fails to compile.
 * @module
 */
import type { Sink, SinkOptions } from './types.ts'
import type { SinkConfig } from '../config/sinks.ts'
import { createFsSink } from './fs.ts'
import { createS3Sink } from './s3.ts'
import { createGcsSink } from './gcs.ts'

type Factories = {
  [T in SinkConfig['type']]: (name: string, config: Extract<SinkConfig, { type: T }>, options?: SinkOptions) => Sink
}

const factories = {
  fs: createFsSink,
  s3: createS3Sink,
  gcs: createGcsSink,
} satisfies Factories

export function createSink(name: string, config: SinkConfig, options: SinkOptions = {}): Sink {
  const factory = factories[config.type] as (name: string, config: SinkConfig, options?: SinkOptions) => Sink
  return factory(name, config, options)
}
