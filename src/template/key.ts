/**
 * Storage keys from templates like `{type}/{streamId}/{date}/{timestamp}-{event}-{id}.{ext}`.
 *
 * Values come partly from unsigned headers. Each is escaped (escape.ts): different values never give the same
 * text, so two streams never share a folder, and no value can make a path, a hidden name or hookcast's own files.
 * `{streamId}` is `account/name`, two folder levels, with any further `/` escaped inside the name: every stream's
 * folder is the same depth, so none lies inside another's. Names too long for a store are shortened (shorten.ts).
 * @module
 */
import type { HookEvent } from '../events/types.ts'
import { escapeValue, MISSING } from './escape.ts'
import { placeholderValues, unknownPlaceholders, type Placeholder } from './placeholders.ts'
import { byteLength, fitName, MAX_KEY_BYTES, MAX_NAME_BYTES, type Piece } from './shorten.ts'

export const DEFAULT_KEY = '{type}/{streamId}/{date}/{timestamp}-{event}-{id}.{ext}'

type Values = Record<Placeholder, string | undefined>

/** One file or folder name of a key, from the template's `segment`-th `/`-separated part. */
interface Name {
  segment: number
  pieces: Piece[]
}

/** Problems with a key template, for config validation; empty when it is usable. */
export function keyTemplateProblems(template: string): string[] {
  const problems = unknownPlaceholders(template).map((name) => `unknown placeholder {${name}}`)
  if (template.startsWith('/')) problems.push('a key must be relative (no leading /)')
  if (template.split('/').some((part) => part === '..' || part === '.'))
    problems.push('a key may not contain . or .. segments')
  if (template.split('/').some((part) => part.startsWith('.hookcast')))
    problems.push("a key may not use .hookcast names (hookcast's own files)")
  if (problems.length === 0) {
    try {
      renderNames(template, LONGEST)
    } catch (error) {
      problems.push((error as Error).message)
    }
  }
  return problems
}

/** Renders a key: escaped values, `{streamId}` as two folder levels, every name and the whole key short enough. */
export function renderKey(template: string, event: HookEvent): string {
  return renderNames(template, placeholderValues(event)).names.join('/')
}

/**
 * The first `segments` `/`-separated parts of `template` as they are rendered in the event's whole key (a long
 * key may shorten its folders too), e.g. the folder of a stream for retention.
 */
export function renderKeyFolders(template: string, segments: number, event: HookEvent): string {
  const { names, segmentOf } = renderNames(template, placeholderValues(event))
  return names.filter((_, i) => segmentOf[i]! < segments).join('/')
}

/** The key `template` gives when every value is as long as can be: the longest names and key it can make. */
export function longestKey(template: string): string {
  return renderNames(template, LONGEST).names.join('/')
}

/** Values longer than any store's name, in every character class, for the longest key a template can give. */
const LONG = 'Ab9_ é日😀'.repeat(120)
const LONGEST: Values = {
  source: LONG,
  type: LONG,
  event: LONG,
  streamId: `${LONG}/${LONG}`,
  streamName: LONG,
  accountId: LONG,
  feedId: LONG,
  tokenId: LONG,
  timestamp: '4102444799999',
  date: '2099-12-31',
  time: '235959',
  id: 'f'.repeat(24),
  ext: 'json',
}

function renderNames(template: string, values: Values): { names: string[]; segmentOf: number[] } {
  const parts = namesOf(template, values)
  const names = parts.map((name) => fitName(name.pieces, MAX_NAME_BYTES))
  let total = names.reduce((sum, name) => sum + byteLength(name), names.length - 1)
  // Too long a key gives way from its last names, so a stream's folder stays as it is whenever it can.
  for (let i = names.length - 1; i >= 0 && total > MAX_KEY_BYTES; i--) {
    const before = byteLength(names[i]!)
    names[i] = fitName(parts[i]!.pieces, before - (total - MAX_KEY_BYTES))
    total += byteLength(names[i]!) - before
  }
  if (names.length === 0 || names.some((name) => name === '.' || name === '..')) {
    throw new Error(`key template "${template}" gave an unsafe key`)
  }
  const long = names.find((name) => byteLength(name) > MAX_NAME_BYTES)
  if (long !== undefined) {
    throw new Error(
      `a name in the key can be ${byteLength(long)} bytes even with its values shortened, more than ` +
        `the ${MAX_NAME_BYTES} a file system takes: shorten its fixed text`,
    )
  }
  if (total > MAX_KEY_BYTES) {
    throw new Error(
      `the key can be ${total} bytes even with its values shortened, more than the ${MAX_KEY_BYTES} ` +
        'S3 and GCS take: use fewer folders or less fixed text',
    )
  }
  return { names, segmentOf: parts.map((name) => name.segment) }
}

/** The template's names with their pieces; `{streamId}` ends one name and starts the next. Empty names are left out. */
function namesOf(template: string, values: Values): Name[] {
  const out: Name[] = []
  template.split('/').forEach((segment, index) => {
    let pieces: Piece[] = []
    for (const token of tokensOf(segment)) {
      if (token.placeholder === undefined) {
        pieces.push(token.text)
      } else if (token.placeholder === 'streamId') {
        const [account, name] = streamIdPieces(values.streamId)
        if (name === undefined) {
          pieces.push(account)
        } else {
          out.push({ segment: index, pieces: [...pieces, account] })
          pieces = [name]
        }
      } else {
        const value = values[token.placeholder]
        pieces.push(value ? { value: escapeValue(value) } : MISSING)
      }
    }
    out.push({ segment: index, pieces })
  })
  return out.filter((name) => name.pieces.some((piece) => piece !== ''))
}

/**
 * `{streamId}` as an account and a name piece. An id that is not `account/name` with both parts present (no `/`, or
 * one at either end: only a signed JSON hook can carry one) keeps its whole escaped text as the account and a
 * missing name: never a folder `_` (a missing id's) nor one another stream's could be inside.
 */
function streamIdPieces(streamId: string | undefined): [Piece] | [Piece, Piece] {
  if (!streamId) return [MISSING]
  const slash = streamId.indexOf('/')
  if (slash > 0 && slash < streamId.length - 1) {
    return [{ value: escapeValue(streamId.slice(0, slash)) }, { value: escapeValue(streamId.slice(slash + 1)) }]
  }
  return [{ value: escapeValue(streamId) }, MISSING]
}

interface Token {
  text: string
  placeholder?: Placeholder | undefined
}

const parsed = new Map<string, Token[]>()
const PLACEHOLDER = /\{([A-Za-z]+)\}/g
const KNOWN = new Set(Object.keys(LONGEST))

/** A segment's literal text and placeholders, parsed once per segment (templates come from the config: few). */
function tokensOf(segment: string): Token[] {
  let tokens = parsed.get(segment)
  if (tokens) return tokens
  tokens = []
  let at = 0
  for (const match of segment.matchAll(PLACEHOLDER)) {
    if (!KNOWN.has(match[1]!)) continue // left as text; config validation refuses it
    if (match.index > at) tokens.push({ text: segment.slice(at, match.index) })
    tokens.push({ text: match[0], placeholder: match[1] as Placeholder })
    at = match.index + match[0].length
  }
  if (at < segment.length) tokens.push({ text: segment.slice(at) })
  if (parsed.size >= 1000) parsed.clear()
  parsed.set(segment, tokens)
  return tokens
}
