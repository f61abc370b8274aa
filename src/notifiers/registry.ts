/**
 * Notifier types by name; like the sink registry, the config schema and this table check each other.
 * @module
 */
import { z } from 'zod'
import type { Destination } from '../destinations/types.ts'
import { createHttpNotifier, httpNotifierConfig } from './http.ts'
import { createSlackNotifier, slackNotifierConfig, type NotifierDeps } from './slack.ts'

export type { NotifierDeps }

export const notifierConfig = z.discriminatedUnion('type', [httpNotifierConfig, slackNotifierConfig])

export type NotifierConfig = z.infer<typeof notifierConfig>

type Factories = {
  [T in NotifierConfig['type']]: (name: string, config: Extract<NotifierConfig, { type: T }>, deps: NotifierDeps) => Destination
}

const factories = {
  http: createHttpNotifier,
  slack: createSlackNotifier,
} satisfies Factories

export function createNotifier(name: string, config: NotifierConfig, deps: NotifierDeps): Destination {
  const factory = factories[config.type] as (name: string, config: NotifierConfig, deps: NotifierDeps) => Destination
  return factory(name, config, deps)
}
