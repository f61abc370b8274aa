/**
 * The config file's schema: the one source of truth for its shape; types are inferred from it.
 * Every object is strict, so a typo in a key fails at start instead of being silently ignored.
 * @module
 */
import { z } from 'zod'
import { byteSize } from './size.ts'
import { sinkConfig } from '../sinks/registry.ts'
import { decodeBase64 } from '../verify/verifier.ts'

const oneOrMany = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)])
  .transform((value) => (Array.isArray(value) ? value : [value]))

const base64Secret = z.string().min(1).refine((value) => (decodeBase64(value.trim())?.byteLength ?? 0) > 0, {
  message: 'not a base64 secret (paste it as the dashboard or REST API shows it)',
})

export const serverConfig = z.object({
  /** Port to listen on; the PORT environment variable wins. */
  port: z.number().int().min(0).max(65535).default(8080),
  /** Address to bind. */
  host: z.string().default('0.0.0.0'),
  /** Largest body accepted; thumbnails are full-resolution JPEGs, so keep this well above 1 MiB. */
  maxBodyBytes: byteSize.default(16 * 1024 * 1024),
}).strict()

export const sourceConfig = z.object({
  /** URL path the platform posts to. */
  path: z.string().regex(/^\/[A-Za-z0-9._~\/-]*$/, 'a path starting with / (letters, digits, . _ ~ - /)'),
  /** Base64 signing secrets; list two while rotating. */
  secrets: z.array(base64Secret).min(1),
}).strict()

export const routeConfig = z.object({
  when: z.object({
    source: oneOrMany.optional(),
    type: oneOrMany.optional(),
    event: oneOrMany.optional(),
    /** Glob on `account/name`: `*` within a part, `**` across parts. */
    stream: oneOrMany.optional(),
  }).strict().default({}),
  to: z.array(z.string().min(1)).min(1),
}).strict()

export const configSchema = z.object({
  server: serverConfig.default({ port: 8080, host: '0.0.0.0', maxBodyBytes: 16 * 1024 * 1024 }),
  sources: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and -'), sourceConfig)
    .refine((sources) => Object.keys(sources).length > 0, 'at least one source is required'),
  sinks: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and -'), sinkConfig).default({}),
  routes: z.array(routeConfig).default([]),
}).strict().superRefine((config, ctx) => {
  const destinations = new Set(Object.keys(config.sinks))
  config.routes.forEach((route, r) => route.to.forEach((name, t) => {
    if (!destinations.has(name)) {
      ctx.addIssue({ code: 'custom', path: ['routes', r, 'to', t], message: `unknown sink "${name}"` })
    }
  }))
  const paths = new Map<string, string>()
  for (const [name, source] of Object.entries(config.sources)) {
    const other = paths.get(source.path)
    if (other) ctx.addIssue({ code: 'custom', path: ['sources', name, 'path'], message: `same path as source "${other}"` })
    paths.set(source.path, name)
  }
})

export type Config = z.infer<typeof configSchema>
export type RouteConfig = z.infer<typeof routeConfig>
export type SourceConfig = z.infer<typeof sourceConfig>
