/**
 * The config of the local disk sink.
 * @module
 */
import { z } from 'zod'
import { DEFAULT_KEY } from '../template/key.ts'
import { keyTemplate } from './key-template.ts'
import { checkRetention, retentionConfig } from './retention.ts'

export const fsSinkConfig = z
  .object({
    type: z.literal('fs'),
    /** Directory the files go under; created when missing. Relative paths are relative to the working directory. */
    dir: z.string().min(1),
    key: keyTemplate.default(DEFAULT_KEY),
    retention: retentionConfig.optional(),
  })
  .strict()
  .superRefine(checkRetention)

export type FsSinkConfig = z.infer<typeof fsSinkConfig>
