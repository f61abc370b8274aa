/**
 * The config of the HTTP notifier.
 * @module
 */
import { z } from 'zod'
import { headerName, printable } from './printable.ts'

export const httpNotifierConfig = z
  .object({
    type: z.literal('http'),
    url: z.url({ protocol: /^https?$/ }),
    /** `envelope` (JSON of the parsed event) or `original` (the platform's request, re-signed). */
    mode: z.enum(['envelope', 'original']).default('envelope'),
    /** Standard Webhooks secret, `whsec_<base64>`; `original` mode needs it to re-sign X-Millicast-Signature. */
    secret: z
      .string()
      .min(1)
      .refine((value) => /^(whsec_)?[A-Za-z0-9+/]+={0,2}$/.test(value), 'expected whsec_<base64>')
      .optional(),
    /** Extra request headers (e.g. an Authorization token from ${ENV}); no line breaks or control characters. */
    headers: z.record(headerName, printable).default({}),
    /** In `envelope` mode, include a thumbnail's JPEG as base64 (`body`). */
    includeImage: z.boolean().default(true),
  })
  .strict()
  .superRefine((config, ctx) => {
    // The platform's request without its signature would look like a hook nobody verified: the receiver could not
    // tell a forward from a forgery. Original mode therefore always re-signs.
    if (config.mode === 'original' && !config.secret) {
      ctx.addIssue({
        code: 'custom',
        path: ['secret'],
        message:
          "original mode forwards the platform's request re-signed: set secret (whsec_<base64>), or use mode: envelope",
      })
    }
  })

export type HttpNotifierConfig = z.infer<typeof httpNotifierConfig>
