/**
 * Loading a config: YAML text -> `${VAR}` interpolation -> schema. Every problem is collected into one error, each
 * with its YAML path, so a bad config is fixed in one round.
 * @module
 */
import { readFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { parseDocument } from 'yaml'
import type { z } from 'zod'
import { configSchema, type Config } from './config-schema.ts'
import { interpolate, PROTO_KEY, type Env, type MissingVariable } from './interpolate.ts'
import { EMBEDDED_CONFIG } from './embedded.ts'
import { referenceProblems } from './references.ts'
import { plainMessage, SUGGESTS } from './issue-text.ts'
import { yamlErrorText } from './yaml-error.ts'

export class ConfigError extends Error {
  override name = 'ConfigError'
  readonly problems: string[]

  constructor(origin: string, problems: string[]) {
    // A problem of several lines (a YAML code frame) stays indented under its dash.
    super(`invalid config ${origin}:\n${problems.map((p) => `  - ${p.replaceAll('\n', '\n    ')}`).join('\n')}`)
    this.problems = problems
  }
}

/** Parses and validates config text; throws ConfigError listing every problem. */
export function parseConfig(text: string, env: Env, origin = '(config)'): Config {
  const document = parseDocument(text, { prettyErrors: true })
  if (document.errors.length > 0) throw new ConfigError(origin, [yamlErrorText(document.errors[0]!, text)])
  const missing: MissingVariable[] = []
  const parsed: unknown = document.toJS() ?? {}
  const raw = interpolate(parsed, env, missing)
  const problems = protoKeys(parsed)
  problems.push(...missing.map(({ name, path }) => `${path}: environment variable ${name} is not set`))
  const result = configSchema.safeParse(raw, { error: plainMessage })
  if (!result.success) {
    // A value whose variable is missing is reported once, as missing, not again as invalid.
    const unset = new Set(missing.map((m) => m.path))
    problems.push(
      ...withoutConsequences(result.error.issues)
        .map(formatIssue)
        .filter((p) => !unset.has(p.split(': ')[0]!)),
    )
  }
  problems.push(...referenceProblems(raw).map((problem) => `${formatPath(problem.path)}: ${problem.message}`))
  if (problems.length > 0) throw new ConfigError(origin, problems)
  return result.data!
}

/** Where the config comes from: `--config FILE`, else HOOKCAST_CONFIG, else ./config.yaml, else the example. */
export function resolveConfigPath(args: readonly string[], env: Env): string | undefined {
  const flag = args.findIndex((arg) => arg === '--config' || arg === '-c')
  if (flag >= 0 && args[flag + 1]) return args[flag + 1]
  const inline = args.find((arg) => arg.startsWith('--config='))
  if (inline) return inline.slice('--config='.length)
  if (env.HOOKCAST_CONFIG) return env.HOOKCAST_CONFIG
  for (const candidate of ['config.yaml', 'config.example.yaml']) if (existsSync(candidate)) return candidate
  return undefined
}

/** Reads the config at `path`, or the embedded default (local disk) when there is none. */
export async function loadConfig(path: string | undefined, env: Env): Promise<{ config: Config; origin: string }> {
  if (path === undefined)
    return { config: parseConfig(EMBEDDED_CONFIG, env, '(embedded default)'), origin: '(embedded default)' }
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    throw new ConfigError(path, [`cannot read the file: ${(error as Error).message}`])
  }
  return { config: parseConfig(text, env, path), origin: path }
}

/** `__proto__` at any depth, as an unknown key (interpolate.ts leaves it out). */
function protoKeys(value: unknown, path: PropertyKey[] = []): string[] {
  if (value === null || typeof value !== 'object') return []
  const problems: string[] = []
  for (const [key, item] of Object.entries(value)) {
    const at = Array.isArray(value) ? [...path, Number(key)] : [...path, key]
    if (!Array.isArray(value) && key === PROTO_KEY) problems.push(`${formatPath(path)}: unknown key "${key}"`)
    else problems.push(...protoKeys(item, at))
  }
  return problems
}

/** `routes[2].to[0]: unknown sink "s4"` */
function formatIssue(issue: z.core.$ZodIssue): string {
  let message = issue.message
  if (issue.code === 'invalid_key') message = issue.issues.map((inner) => inner.message).join('; ') || message
  return `${formatPath(issue.path)}: ${message}`
}

/**
 * One message per problem: a misspelt key (`webhookURL`) also fails its object's own checks ("set webhookUrl or
 * token") and leaves the key meant missing; those only repeat it, and are left out while the typo is there.
 */
function withoutConsequences(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  const typos = issues.filter((issue) => issue.code === 'unrecognized_keys' && issue.message.includes(SUGGESTS))
  const within = (issue: z.core.$ZodIssue, typo: z.core.$ZodIssue) => typo.path.every((key, i) => issue.path[i] === key)
  const meant = (issue: z.core.$ZodIssue, typo: z.core.$ZodIssue) =>
    issue.path.length === typo.path.length + 1 && typo.message.includes(`\`${String(issue.path.at(-1))}\``)
  return issues.filter(
    (issue) =>
      !typos.some(
        (typo) =>
          within(issue, typo) &&
          (issue.code === 'custom' ||
            (issue.code === 'invalid_type' && issue.message.startsWith('missing') && meant(issue, typo))),
      ),
  )
}

function formatPath(parts: readonly PropertyKey[]): string {
  let path = ''
  for (const part of parts)
    path += typeof part === 'number' ? `[${part}]` : path === '' ? String(part) : `.${String(part)}`
  return path || '(root)'
}
