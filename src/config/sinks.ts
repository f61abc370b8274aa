/**
 * Every sink type's config, as the config file's `sinks:` entries are checked. Only the config schemas: the config
 * layer imports this, never the sinks themselves (the sink registry maps each type to its factory).
 * @module
 */
import { z } from 'zod'
import { fsSinkConfig } from './fs-sink.ts'
import { s3SinkConfig } from './s3-sink.ts'
import { gcsSinkConfig } from './gcs-sink.ts'

export const sinkConfig = z.discriminatedUnion('type', [fsSinkConfig, s3SinkConfig, gcsSinkConfig])

export type SinkConfig = z.infer<typeof sinkConfig>
