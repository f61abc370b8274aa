/**
 * A YAML syntax error as one message with a code frame: the parser reports a first error and then the errors it
 * caused, and only the first says what to fix.
 * @module
 */
import type { YAMLError } from 'yaml'

/** `line 3, column 9: <what>` and the lines up to the offending one, with a caret under the column. */
export function yamlErrorText(error: YAMLError, text: string): string {
  const at = error.linePos?.[0]
  // With prettyErrors the message repeats the position and a frame of its own after the first line.
  const what = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')
  if (!at) return `YAML syntax error: ${what}`
  const lines = text.split(/\r?\n/)
  const width = String(at.line).length
  const frame = [at.line - 1, at.line]
    .filter((number) => number >= 1 && number <= lines.length)
    .map((number) => `${number === at.line ? '>' : ' '} ${String(number).padStart(width)} | ${lines[number - 1]}`)
  frame.push(`  ${' '.repeat(width)} | ${' '.repeat(Math.max(0, at.col - 1))}^`)
  return [`YAML syntax error at line ${at.line}, column ${at.col}: ${what}`, ...frame].join('\n')
}
