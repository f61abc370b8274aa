/**
 * The config's JSON Schema, generated from the zod schema (editors validate and complete config.yaml with it).
 * @module
 */
import { z } from 'zod'
import { configSchema } from '../config/config-schema.ts'

export function configJsonSchema(): string {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' })
  return JSON.stringify({ title: 'hookcast configuration', ...schema }, null, 2) + '\n'
}
