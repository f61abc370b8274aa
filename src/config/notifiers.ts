/**
 * Every notifier type's config, as the config file's `notifiers:` entries are checked. Only the config schemas:
 * the config layer imports this, never the notifiers themselves (the notifier registry maps each type to its factory).
 * @module
 */
import { z } from 'zod'
import { httpNotifierConfig } from './http-notifier.ts'
import { slackNotifierConfig } from './slack-notifier.ts'

export const notifierConfig = z.discriminatedUnion('type', [httpNotifierConfig, slackNotifierConfig])

export type NotifierConfig = z.infer<typeof notifierConfig>
