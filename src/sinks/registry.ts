/**
 * Sink types by name. The config schema and this table check each other: a sink type without a factory, or a
 * factory without a config schema, fails to compile.
 * @module
 */
import { z } from 'zod'
import type { Sink } from './types.ts'
import { createFsSink, fsSinkConfig } from './fs.ts'

export const sinkConfig = z.discriminatedUnion('type', [fsSinkConfig])

export type SinkConfig = z.infer<typeof sinkConfig>

type Factories = { [T in SinkConfig['type']]: (name: string, config: Extract<SinkConfig, { type: T }>) => Sink }

const factories = {
  fs: createFsSink,
} satisfies Factories

export function createSink(name: string, config: SinkConfig): Sink {
  const factory = factories[config.type] as (name: string, config: SinkConfig) => Sink
  return factory(name, config)
}
