/**
 * Storage keys from templates like `{type}/{streamId}/{date}/{timestamp}-{id}.{ext}`.
 *
 * Values come partly from unsigned headers, so every value is reduced to safe characters and the result is a
 * relative path of plain segments: no key can climb out of a directory or a bucket prefix.
 * @module
 */
import type { HookEvent } from '../events/types.ts'
import { placeholderValues, unknownPlaceholders, type Placeholder } from './placeholders.ts'

export const DEFAULT_KEY = '{type}/{streamId}/{date}/{timestamp}-{event}-{id}.{ext}'

const MISSING = '_'

/** Problems with a key template, for config validation; empty when it is usable. */
export function keyTemplateProblems(template: string): string[] {
  const problems = unknownPlaceholders(template).map(
    (name) => `unknown placeholder {${name}}`,
  )
  if (template.startsWith('/')) problems.push('a key must be relative (no leading /)')
  if (template.split('/').some((part) => part === '..' || part === '.')) problems.push('a key may not contain . or .. segments')
  if (template.split('/').some((part) => part.startsWith('.hookcast'))) problems.push('a key may not use .hookcast names (hookcast\'s own files)')
  return problems
}

/** Renders a key; each value is sanitised and `streamId` keeps its one `/` as a directory level. */
export function renderKey(template: string, event: HookEvent): string {
  const values = placeholderValues(event)
  const key = template.replace(/\{([A-Za-z]+)\}/g, (whole, name: string) => {
    if (!(name in values)) return whole
    const value = values[name as Placeholder]
    if (value === undefined || value === '') return MISSING
    return name === 'streamId' ? value.split('/').map(safeSegment).join('/') : safeSegment(value)
  })
  const segments = key.split('/').filter((part) => part !== '')
  if (segments.length === 0 || segments.some((part) => part === '.' || part === '..')) {
    throw new Error(`key template "${template}" gave an unsafe key`)
  }
  return segments.join('/')
}

/**
 * A value as one path segment. A leading `.` becomes `_`: no value may make a hidden file or folder, nor collide
 * with the ones hookcast keeps beside the objects (the fs sink's `.hookcast-tmp`).
 */
function safeSegment(value: string): string {
  const cleaned = value.replace(/[^A-Za-z0-9._@=-]/g, '_').slice(0, 200)
  return cleaned === '.' || cleaned === '..' || cleaned === '' ? MISSING : cleaned.replace(/^\./, '_')
}
