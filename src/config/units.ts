/**
 * Byte sizes and durations written the way people write them in YAML: `16MiB`, `512 KB`, `1048576`; `45s`,
 * `500ms`, `2m`.
 * @module
 */
import { z } from 'zod'

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
}

/** Parses `16MiB` into 16777216; returns undefined when the text is not a size. */
export function parseByteSize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text)
  if (!match) return undefined
  const name = (match[2] || 'b').toLowerCase()
  const unit = Object.hasOwn(UNITS, name) ? UNITS[name] : undefined // `1constructor` is not a size
  if (unit === undefined) return undefined
  return Math.floor(Number(match[1]) * unit)
}

/** A zod type accepting a positive byte count or a size string, yielding bytes. */
export const byteSize = z.union([z.number().int().positive(), z.string()]).transform((value, ctx) => {
  const bytes = typeof value === 'number' ? value : parseByteSize(value)
  if (bytes === undefined || bytes <= 0) {
    ctx.addIssue({ code: 'custom', message: `not a byte size: "${value}" (try 16MiB, 512KB or a number)` })
    return z.NEVER
  }
  return bytes
})

/** Durations like `45s`, `500ms`, `2m`, `1h`, or a number of milliseconds. */
export function parseDuration(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(text)
  if (!match) return undefined
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(match[2] ?? 'ms').toLowerCase() as 'ms']
  return Math.round(Number(match[1]) * factor)
}

/** A zod type accepting milliseconds or a duration string, yielding milliseconds. */
export const duration = z.union([z.number().nonnegative(), z.string()]).transform((value, ctx) => {
  const ms = typeof value === 'number' ? value : parseDuration(value)
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `not a duration: "${value}" (try 500ms, 45s, 2m or 1h)` })
    return z.NEVER
  }
  return ms
})
