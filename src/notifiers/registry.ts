/**
 * Notifier types by name; like the sink registry, the config schema and this table check each other.
 * @module
 */
import { z } from 'zod'
import type { Destination } from '../destinations/types.ts'
import { createHttpNotifier, httpNotifierConfig } from './http.ts'

export const notifierConfig = z.discriminatedUnion('type', [httpNotifierConfig])

export type NotifierConfig = z.infer<typeof notifierConfig>

type Factories = { [T in NotifierConfig['type']]: (name: string, config: Extract<NotifierConfig, { type: T }>) => Destination }

const factories = {
  http: createHttpNotifier,
} satisfies Factories

export function createNotifier(name: string, config: NotifierConfig): Destination {
  const factory = factories[config.type] as (name: string, config: NotifierConfig) => Destination
  return factory(name, config)
}
