/**
 * A sink's `retention:` config, and the check that its key template allows it: retention is per stream, so the key
 * needs a folder named by the stream. The sweep itself is the sinks' own.
 * @module
 */
import { z } from 'zod'
import { duration } from './units.ts'

export const retentionConfig = z
  .object({
    /** Keep at most this many objects per stream (the newest by last-modified time). */
    keepLatest: z.number().int().positive().optional(),
    /** Remove objects last modified longer ago than this. */
    maxAge: duration.refine((ms) => ms > 0, { message: 'a duration above 0, e.g. 7d' }).optional(),
    /** Apply only after puts of these event types (`thumbnail`); every type when absent. */
    types: z.array(z.string().min(1)).min(1).optional(),
    /** List a stream's folder at most this often; 0 lists after every put. */
    sweepEvery: duration.default(5 * 60_000),
  })
  .strict()
  .refine((rules) => rules.keepLatest !== undefined || rules.maxAge !== undefined, {
    message: 'set keepLatest, maxAge or both',
  })

export type RetentionConfig = z.infer<typeof retentionConfig>

const STREAM = ['streamId', 'streamName']
/** Values a replayed thumbnail sets freely (its unsigned headers). */
const FROM_HEADERS = ['accountId', 'streamId', 'streamName']
/** Placeholders that do not change between the events of one stream, so a folder made of them is stable. */
const STABLE = ['source', 'type', 'event', 'accountId', 'streamId', 'streamName']

function placeholdersIn(text: string): string[] {
  return [...text.matchAll(/\{([A-Za-z]+)\}/g)].map((match) => match[1]!)
}

/** The template of a stream's folder, e.g. `{type}/{streamId}`; undefined when no folder names the stream. */
export function scopeTemplate(keyTemplate: string): string | undefined {
  const folders = keyTemplate.split('/').slice(0, -1)
  const at = folders.findIndex((folder) => placeholdersIn(folder).some((name) => STREAM.includes(name)))
  return at < 0 ? undefined : folders.slice(0, at + 1).join('/')
}

/** Why `retention` cannot work with `keyTemplate`; empty when it can. */
export function retentionProblems(keyTemplate: string, retention: RetentionConfig): string[] {
  const scope = scopeTemplate(keyTemplate)
  if (scope === undefined) {
    return [
      'retention is per stream, so the key needs a folder named by the stream: put {streamId} or {streamName} in a ' +
        'folder, e.g. "{type}/{streamId}/{timestamp}-{id}.{ext}"',
    ]
  }
  const problems: string[] = []
  const unstable = [...new Set(placeholdersIn(scope).filter((name) => !STABLE.includes(name)))]
  if (unstable.length > 0) {
    const names = unstable.map((n) => `{${n}}`).join(' ')
    problems.push(
      `retention is per stream, but the key's folders up to the stream use ${names}, ` +
        'which change within a stream: move them after the stream folder',
    )
  }
  problems.push(...sharedFolderProblems(scope))
  if (retention.types && !placeholdersIn(scope).includes('type')) {
    problems.push(
      'retention.types needs {type} in the key before the stream folder, or other kinds stored in the same folder ' +
        'are pruned too; or drop retention.types when this sink stores only those kinds',
    )
  }
  return problems
}

/**
 * Folders up to the stream's that two streams could share. `{accountId}-{streamName}` is one folder for the streams
 * `a-b`/`c` and `a`/`b-c`; `{streamId}-x` is `_-x` for events without a stream, the account folder of stream `_-x/..`.
 */
function sharedFolderProblems(scope: string): string[] {
  const problems: string[] = []
  for (const folder of scope.split('/')) {
    const names = placeholdersIn(folder).filter((name) => FROM_HEADERS.includes(name))
    if (names.length > 1) {
      const joined = names.map((name) => `{${name}}`).join(' and ')
      problems.push(
        `retention is per stream, but the folder "${folder}" joins ${joined}, which can give two streams ` +
          'one folder: put each in a folder of its own, e.g. "{accountId}/{streamName}"',
      )
    }
    if (/\{streamId\}./.test(folder)) {
      problems.push(
        `retention is per stream, but the folder "${folder}" has text after {streamId}, which can give ` +
          "events without a stream a folder holding other streams': end the folder with {streamId}",
      )
    }
  }
  return problems
}

/** Adds retention problems to a sink config's validation, at the path `retention`. */
export function checkRetention(
  config: { key: string; retention?: RetentionConfig | undefined },
  ctx: z.RefinementCtx,
): void {
  if (!config.retention) return
  for (const message of retentionProblems(config.key, config.retention))
    ctx.addIssue({ code: 'custom', path: ['retention'], message })
}
