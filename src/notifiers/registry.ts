/**
 * Notifier types by name. As with sinks, the config's union of notifier types and this table check each other: a
 * type in one and not the other does not compile.
 * @module
 */
import type { Destination } from '../destinations/types.ts'
import type { NotifierConfig } from '../config/notifiers.ts'
import { createHttpNotifier } from './http.ts'
import { createSlackNotifier, type NotifierDeps } from './slack.ts'

export type { NotifierDeps }

type Factories = {
  [T in NotifierConfig['type']]: (
    name: string,
    config: Extract<NotifierConfig, { type: T }>,
    deps: NotifierDeps,
  ) => Destination
}

const factories = {
  http: createHttpNotifier,
  slack: createSlackNotifier,
} satisfies Factories

export function createNotifier(name: string, config: NotifierConfig, deps: NotifierDeps): Destination {
  const factory = factories[config.type] as (name: string, config: NotifierConfig, deps: NotifierDeps) => Destination
  return factory(name, config, deps)
}
