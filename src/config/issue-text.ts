/**
 * Plain words for the validator's findings: what was expected and what the YAML holds ("expected a number, got the
 * text "80a""), the valid choices where there are a few, and the key or value meant where one is close. Used as the
 * parse's error map, so the schema's own messages still win.
 * @module
 */
import type { z } from 'zod'
import { closest } from './suggest.ts'

type RawIssue = z.core.$ZodRawIssue

/** The message for `issue`, or undefined for the validator's own. */
export function plainMessage(issue: RawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined
        ? `missing: expected ${expectedText(issue.expected)}`
        : `expected ${expectedText(issue.expected)}, got ${valueText(issue.input)}`
    case 'invalid_union':
      return unionText(issue)
    case 'unrecognized_keys':
      return unknownKeysText(issue.keys, knownKeys(issue.inst))
    case 'invalid_value':
      return choiceText(issue.input, issue.values.map(String))
    case 'too_small':
    case 'too_big':
      return sizeText(issue)
    case 'invalid_format':
      return issue.format === 'url' ? `expected a URL (https://...), got ${valueText(issue.input)}` : undefined
    default:
      return undefined
  }
}

/** An unknown key with a close known one: its object's other problems are likely the typo's consequences. */
export const SUGGESTS = '(did you mean'

const EXPECTED: Record<string, string> = {
  number: 'a number',
  int: 'a whole number',
  string: 'a text',
  boolean: 'true or false',
  object: 'a mapping (key: value lines)',
  array: 'a list',
  record: 'a mapping (key: value lines)',
}

function expectedText(expected: string): string {
  return EXPECTED[expected] ?? expected
}

/** What a YAML value is, in words: `the text "80a"`, `the number 5`, `a list`. */
function valueText(value: unknown): string {
  if (value === null) return 'nothing (null)'
  if (typeof value === 'string') return `the text ${JSON.stringify(value)}`
  if (typeof value === 'number' || typeof value === 'boolean')
    return `${typeof value === 'number' ? 'the number ' : ''}${value}`
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a mapping'
  return String(value)
}

/** A discriminated union whose `type` matches none of its kinds, or a choice of plain types (`oneOrMany`). */
function unionText(issue: Extract<RawIssue, { code: 'invalid_union' }>): string | undefined {
  if ('note' in issue && issue.note === 'No matching discriminator') {
    const kinds = ((issue as { options?: unknown[] }).options ?? []).filter((kind) => typeof kind === 'string')
    const value = (issue.input as Record<string, unknown> | undefined)?.[
      (issue as { discriminator?: string }).discriminator ?? 'type'
    ]
    if (value === undefined) return `missing: expected one of ${kinds.join(', ')}`
    return `unknown type ${JSON.stringify(value)}; valid types: ${kinds.join(', ')}${suggestion(String(value), kinds)}`
  }
  const branches = issue.errors.map((branch) => branch[0])
  if (!branches.every((first) => first?.code === 'invalid_type' && first.path?.length === 0)) return undefined
  const expected = branches.map((first) => expectedText((first as { expected: string }).expected))
  return `expected ${expected.join(' or ')}, got ${valueText(issue.input)}`
}

function unknownKeysText(keys: readonly string[], known: string[]): string {
  const parts = keys.map((key) => `"${key}"${suggestion(key, known)}`)
  return `unknown key${keys.length > 1 ? 's' : ''} ${parts.join(', ')}`
}

/** The keys an object schema knows (zod keeps its shape on the schema object). */
function knownKeys(schema: unknown): string[] {
  const shape = (schema as { _zod?: { def?: { shape?: Record<string, unknown> } } })?._zod?.def?.shape
  return shape ? Object.keys(shape) : []
}

function choiceText(value: unknown, choices: string[]): string {
  const hint = typeof value === 'string' ? suggestion(value, choices) : ''
  return `expected one of ${choices.join(', ')}, got ${valueText(value)}${hint}`
}

function suggestion(word: string, candidates: string[]): string {
  const near = closest(word, candidates)
  return near && near !== word ? ` ${SUGGESTS} \`${near}\`?)` : ''
}

function sizeText(issue: Extract<RawIssue, { code: 'too_small' | 'too_big' }>): string | undefined {
  const small = issue.code === 'too_small'
  const limit = Number(small ? issue.minimum : issue.maximum)
  const inclusive = issue.inclusive !== false
  switch (issue.origin) {
    case 'number':
    case 'int':
      return `must be ${small ? (inclusive ? 'at least' : 'more than') : inclusive ? 'at most' : 'less than'} ${limit}`
    case 'string':
      if (small && limit === 1) return 'must not be empty'
      return `must be ${small ? 'at least' : 'at most'} ${limit} characters`
    case 'array':
      return small
        ? `needs at least ${limit} item${limit === 1 ? '' : 's'}`
        : `takes at most ${limit} item${limit === 1 ? '' : 's'}`
    default:
      return undefined
  }
}
