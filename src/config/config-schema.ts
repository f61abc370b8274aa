/**
 * The config file's schema: the one source of truth for its shape; types are inferred from it.
 * Every object is strict, so a typo in a key fails at start instead of being silently ignored.
 * @module
 */
import { z } from 'zod'
import { HEALTH_DEFAULTS } from '../streams/health-rules.ts'
import { byteSize, duration } from './units.ts'
import { spoolConfig } from './backend.ts'
import { sinkConfig } from './sinks.ts'
import { notifierConfig } from './notifiers.ts'
import { decodeBase64 } from '../util/encoding.ts'
import { printable } from './printable.ts'

const oneOrMany = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
  .transform((value) => (Array.isArray(value) ? value : [value]))

/** Fewer bytes than this is a guessable key; the platform's secrets are 32 bytes. */
const MIN_SECRET_BYTES = 16

const base64Secret = z
  .string()
  .min(1)
  .superRefine((value, ctx) => {
    const bytes = decodeBase64(value.trim())?.byteLength ?? 0
    if (bytes === 0)
      ctx.addIssue({ code: 'custom', message: 'not a base64 secret (paste it as the dashboard or REST API shows it)' })
    else if (bytes < MIN_SECRET_BYTES) {
      ctx.addIssue({
        code: 'custom',
        message:
          `the secret decodes to ${bytes} bytes; at least ${MIN_SECRET_BYTES} are needed ` +
          "(the platform's secrets are 32)",
      })
    }
  })

const serverConfig = z
  .object({
    /** Port to listen on; the PORT environment variable wins. */
    port: z.number().int().min(0).max(65535).default(8080),
    /**
     * Address to bind; the HOST environment variable wins. Unset: 0.0.0.0, or 127.0.0.1 while a source uses the
     * published development secret (see src/config/listen.ts).
     */
    host: z.string().min(1).optional(),
    /** Serve with the development secret on a non-loopback address anyway (anyone can sign hooks with it). */
    allowDevSecret: z.boolean().default(false),
    /**
     * Behind a reverse proxy that sets X-Forwarded-For: take the client's address (for the admin sign-in limit and
     * the share of bodies in flight) from its last hop. Only with such a proxy: otherwise anyone can claim any address.
     */
    trustProxy: z.boolean().default(false),
    /** Largest body accepted; thumbnails are full-resolution JPEGs, so keep this well above 1 MiB. */
    maxBodyBytes: byteSize.default(16 * 1024 * 1024),
    /**
     * Body bytes all requests may hold at once, counted as they arrive (src/http/in-flight.ts): a client holds more
     * than a quarter only while nobody else needs the room, and small bodies have a reserve of a sixteenth more. A body
     * with no room gets 503 with Retry-After. Default: 4 x maxBodyBytes (64 MiB). At least maxBodyBytes.
     */
    maxInFlightBytes: byteSize.optional(),
    /** A request's body must arrive whole within this long, else 408 (slow senders hold no memory for long). */
    bodyTimeout: duration.default(30_000),
    /**
     * A request's headers must arrive within this long (Node). Bun only has an idle timeout, set to headersTimeout +
     * bodyTimeout + 5 s; Deno.serve has none (put a proxy in front against slow headers).
     */
    headersTimeout: duration.default(10_000),
    /** On SIGTERM/SIGINT, how long deliveries under way may take to finish; the rest stay in the spool. */
    shutdownGrace: duration.default(10_000),
  })
  .strict()
  .transform((server, ctx) => {
    const maxInFlightBytes = server.maxInFlightBytes ?? 4 * server.maxBodyBytes
    if (maxInFlightBytes < server.maxBodyBytes) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxInFlightBytes'],
        message: 'must be at least maxBodyBytes (a single body must fit)',
      })
    }
    for (const key of ['bodyTimeout', 'headersTimeout'] as const) {
      if (server[key] <= 0) ctx.addIssue({ code: 'custom', path: [key], message: 'must be more than 0' })
    }
    return { ...server, maxInFlightBytes }
  })

const sourceConfig = z
  .object({
    /** URL path the platform posts to. */
    path: z.string().regex(/^\/[A-Za-z0-9._~/-]*$/, 'a path starting with / (letters, digits, . _ ~ - /)'),
    /** Base64 signing secrets; list two while rotating. */
    secrets: z.array(base64Secret).min(1),
  })
  .strict()

const routeConfig = z
  .object({
    when: z
      .object({
        source: oneOrMany.optional(),
        type: oneOrMany.optional(),
        event: oneOrMany.optional(),
        /** Glob on `account/name`: `*` within a part, `**` across parts. */
        stream: oneOrMany.optional(),
      })
      .strict()
      .default({}),
    to: z.array(z.string().min(1)).min(1),
  })
  .strict()

const MiB = 1024 * 1024

const destinationName = z
  .string()
  .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and -')
  .refine(
    (name) => !(name in Object.prototype),
    'a name JavaScript objects already use (__proto__, constructor...); pick another',
  )

const retryConfig = z
  .object({
    /** Waits between attempts; the last repeats until maxAge. */
    schedule: z.array(duration).min(1).default([1_000, 5_000, 30_000, 120_000, 600_000, 3_600_000]),
    /** Spread of each wait: 0.2 is ±20%. */
    jitter: z.number().min(0).max(1).default(0.2),
    /** A delivery still failing this long after its event was accepted goes to dead letters. */
    maxAge: duration.default(24 * 3_600_000),
  })
  .strict()

const circuitConfig = z
  .object({
    /** Transient failures in a row that open the circuit: deliveries to that destination then wait. */
    failures: z.number().int().min(1).default(5),
    /** How long an open circuit waits before letting one probe delivery through. */
    probeAfter: duration.default(30_000),
    /** Each failed probe doubles the wait, up to this. */
    maxProbeAfter: duration.default(600_000),
  })
  .strict()

const lanePolicy = {
  /** Deliveries under way at once, per destination. */
  concurrency: z.number().int().min(1).max(1024),
  /** Longest a single attempt may take. */
  timeout: duration,
  retry: retryConfig,
  circuit: circuitConfig,
}

export const deliveryConfig = z
  .object({
    /** Unset: each destination's own default (64 for the fs sink, 16 for S3 and GCS, 8 for notifiers). */
    concurrency: lanePolicy.concurrency.optional(),
    timeout: lanePolicy.timeout.default(30_000),
    retry: retryConfig.default(retryConfig.parse({})),
    circuit: circuitConfig.default(circuitConfig.parse({})),
    /** Per-destination overrides of the settings above, by destination name. */
    destinations: z
      .record(
        z.string(),
        z
          .object({
            concurrency: lanePolicy.concurrency.optional(),
            timeout: lanePolicy.timeout.optional(),
            retry: retryConfig.partial().optional(),
            circuit: circuitConfig.partial().optional(),
          })
          .strict(),
      )
      .default({}),
  })
  .strict()

/** Picture health from thumbnails (README "Stream health"); the defaults are the tracker's (health-rules.ts). */
const healthConfig = z
  .object({
    /** Black: this many black pictures in a row; black is this share of the picture's cells (or more) dark. */
    black: z
      .object({
        after: z.number().int().min(1).default(HEALTH_DEFAULTS.black.after),
        darkFraction: z.number().gt(0).max(1).default(HEALTH_DEFAULTS.black.darkFraction),
      })
      .strict()
      .default(HEALTH_DEFAULTS.black),
    /** Frozen: this many pictures in a row whose cells change by `tolerance` (of 255) at most. */
    frozen: z
      .object({
        after: z.number().int().min(2).default(HEALTH_DEFAULTS.frozen.after),
        tolerance: z.number().min(0).max(254).default(HEALTH_DEFAULTS.frozen.tolerance),
      })
      .strict()
      .default(HEALTH_DEFAULTS.frozen),
    /** Quiet: a session that has sent thumbnails sends none for this long. */
    quiet: z
      .object({ after: duration.default(HEALTH_DEFAULTS.quiet.after) })
      .strict()
      .default(HEALTH_DEFAULTS.quiet),
    /** Good pictures in a row that clear black or frozen. */
    recoverAfter: z.number().int().min(1).default(HEALTH_DEFAULTS.recoverAfter),
  })
  .strict()

const streamsConfig = z
  .object({
    /** Stream state (live sessions, feeds, first and latest thumbnail, alert ids); default `<spool.dir>/streams`. */
    dir: z.string().min(1).optional(),
    /** A feed starting again this soon after the last one ended continues the same live session (no ended + live). */
    flapWindow: duration.default(60_000),
    /** A live session with no hook of any kind for this long ends (`endedBy: silence`); false: never. */
    endAfterSilence: z.union([z.literal(false), duration]).default(600_000),
    /** How long the `live` event waits for the session's first thumbnail (they come every 30 s). */
    thumbnailWait: duration.default(45_000),
    /** Picture health (black, frozen, quiet); false turns it off, true takes every default. */
    health: z
      .union([z.boolean(), healthConfig])
      .default(true)
      .transform((health) => (health === true ? healthConfig.parse({}) : health)),
    /** Streams remembered at most; a new one evicts an ended one (never a live one: all live, it is not tracked). */
    maxStreams: z.number().int().min(1).default(10_000),
    /** An ended stream is forgotten this long after its last change. */
    keepEnded: duration.default(7 * 86_400_000),
    /** Bytes of first/latest thumbnails kept; ended streams' go first, then new ones are not kept. */
    maxThumbnailBytes: byteSize.default(512 * MiB),
  })
  .strict()

/** A bearer token is only as strong as it is long: shorter than this is refused. */
const MIN_TOKEN_CHARS = 16
/** An optional secret: unset, or set to an empty string (`${VAR:-}`), means off. */
const optionalToken = printable
  .optional()
  .refine(
    (value) => !value || value.length >= MIN_TOKEN_CHARS,
    `at least ${MIN_TOKEN_CHARS} characters (a long random string: openssl rand -hex 24)`,
  )
  .transform((value) => (value ? value : undefined))

const adminConfig = z
  .object({
    /**
     * The live streams page (/) and the admin API (/api). false: off, whatever the token. true: with `token`, both
     * need it; without, a server prints one-time sign-in links at start, on loopback only unless `signInLinks` says
     * otherwise (a serverless function keeps them off). See src/config/admin-access.ts.
     */
    enabled: z.boolean().default(true),
    /** The page's sign-in token, and the API's bearer token (`Authorization: Bearer`). */
    token: optionalToken,
    /**
     * Without `token`: true prints one-time sign-in links on any listen address (anyone who reads the server's
     * output can sign in); false never. Unset: on loopback only, else the page and the API stay off.
     */
    signInLinks: z.boolean().optional(),
  })
  .strict()

const metricsConfig = z
  .object({
    /** Serve Prometheus metrics on /metrics. */
    enabled: z.boolean().default(true),
    /** When set, /metrics needs `Authorization: Bearer <token>`. */
    token: optionalToken,
  })
  .strict()

const logConfig = z
  .object({
    /** debug, info, warn or error; the HOOKCAST_LOG_LEVEL environment variable wins. */
    level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  })
  .strict()

export const configSchema = z
  .object({
    server: serverConfig.default(serverConfig.parse({})),
    sources: z
      .record(z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and -'), sourceConfig)
      .refine((sources) => Object.keys(sources).length > 0, 'at least one source is required'),
    sinks: z.record(destinationName, sinkConfig).default({}),
    notifiers: z.record(destinationName, notifierConfig).default({}),
    routes: z.array(routeConfig).default([]),
    spool: spoolConfig.default(spoolConfig.parse({})),
    delivery: deliveryConfig.default(deliveryConfig.parse({})),
    streams: streamsConfig.default(streamsConfig.parse({})),
    admin: adminConfig.default(adminConfig.parse({})),
    metrics: metricsConfig.default(metricsConfig.parse({})),
    log: logConfig.default(logConfig.parse({})),
  })
  .strict()

export type Config = z.infer<typeof configSchema>
export type RouteConfig = z.infer<typeof routeConfig>
export type DeliveryConfig = z.infer<typeof deliveryConfig>
