/**
 * Sink types by name. The config schema and this table check each other: a sink type without a factory, or a
 * factory without a config schema, fails to compile.
 * @module
 */
import { z } from 'zod'
import type { Sink, SinkOptions } from './types.ts'
import { createFsSink, fsSinkConfig } from './fs.ts'
import { createS3Sink, s3SinkConfig } from './s3.ts'
import { createGcsSink, gcsSinkConfig } from './gcs.ts'

export const sinkConfig = z.discriminatedUnion('type', [fsSinkConfig, s3SinkConfig, gcsSinkConfig])

export type SinkConfig = z.infer<typeof sinkConfig>

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
