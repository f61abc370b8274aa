/**
 * The config's JSON Schema, generated from the zod schema (editors validate and complete config.yaml with it).
 * @module
 */
import { z } from 'zod'
import { configSchema } from '../config/config-schema.ts'
import { parseCommand } from './args.ts'
import type { Io } from './io.ts'
import type { Env } from '../config/interpolate.ts'

export const SCHEMA_SPEC = {
  name: 'schema',
  usage: `usage: hookcast schema

Prints the config's JSON Schema (config.schema.json is this output; editors validate config.yaml with it).`,
  options: {},
} as const

export async function schemaCommand(args: readonly string[], _env: Env, io: Io): Promise<number> {
  parseCommand(SCHEMA_SPEC, args)
  io.out(configJsonSchema().trimEnd())
  return 0
}

function configJsonSchema(): string {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' })
  return JSON.stringify({ title: 'hookcast configuration', ...schema }, null, 2) + '\n'
}
