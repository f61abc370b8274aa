/**
 * The Slack notifier's config and its checks: exactly one mode (an incoming webhook, or a bot token and a
 * channel), and in webhook mode a way to show thumbnails (Slack needs a public image URL there).
 * @module
 */
import { z } from 'zod'
import { duration } from './units.ts'
import { printable } from './printable.ts'

export const slackNotifierConfig = z
  .object({
    type: z.literal('slack'),
    /** Incoming webhook mode: the webhook URL (from ${ENV}: it is a secret). */
    webhookUrl: z.url({ protocol: /^https?$/ }).optional(),
    /** Bot mode: a bot token (xoxb-..., from ${ENV}) and the channel id to post in. */
    token: printable.min(1).optional(),
    channel: z.string().min(1).optional(),
    /** Where the Web API is (a proxy, a test server). */
    apiUrl: z.url({ protocol: /^https?$/ }).default('https://slack.com/api'),
    /** Deprecated and ignored (a warning at start): the `live` event itself waits, `streams.thumbnailWait`. */
    thumbnailWait: duration.optional(),
    /**
     * Webhook mode only, where Slack needs a public image URL: `{ sink: NAME }` (an s3 or gcs sink that stores the
     * thumbnails and can sign URLs), `{ publicUrl: URL }` (this gateway's own signed thumbnail links), or `false`.
     */
    image: z
      .union([
        z.literal(false),
        z.object({ sink: z.string().min(1) }).strict(),
        z.object({ publicUrl: z.url({ protocol: /^https?$/ }), expiry: duration.default(7 * 86_400_000) }).strict(),
      ])
      .optional(),
    /** Message headlines; placeholders as in sink keys, plus {duration} {feeds} {liveSince} {endedAt}. */
    templates: z
      .object({ live: z.string().min(1), ended: z.string().min(1), media: z.string().min(1) })
      .partial()
      .strict()
      .default({}),
    /** At most one message per this interval per channel (Slack allows about one per second). */
    minInterval: duration.default(1_000),
  })
  .strict()
  .superRefine((config, ctx) => {
    const bot = config.token !== undefined || config.channel !== undefined
    if (config.webhookUrl && bot)
      ctx.addIssue({ code: 'custom', message: 'set either webhookUrl, or token and channel, not both' })
    if (!config.webhookUrl && !(config.token && config.channel)) {
      ctx.addIssue({
        code: 'custom',
        message: 'set webhookUrl (incoming webhook mode), or token and channel (bot mode)',
      })
    }
    if (config.webhookUrl && config.image === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['image'],
        message:
          'webhook mode has no way to show thumbnails: Slack needs a public image URL. ' +
          'Set image: { sink: <s3 or gcs sink> }, ' +
          "or image: { publicUrl: <this gateway's public URL> }, " +
          'or image: false to post without images (or use bot mode)',
      })
    }
    if (!config.webhookUrl && config.image !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['image'],
        message: 'only for webhook mode: bot mode uploads images itself',
      })
  })

export type SlackNotifierConfig = z.infer<typeof slackNotifierConfig>
