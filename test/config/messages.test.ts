/**
 * Config errors as a newcomer reads them (issue 25, item 4): one message per problem, its YAML path, plain words,
 * the valid choices, and the key meant when one is close.
 */
import { describe, expect, it } from 'vitest'
import { ConfigError, parseConfig } from '../../src/config/load.ts'
import { closest, editDistance } from '../../src/config/suggest.ts'
import { SECRET } from '../support/hooks.ts'

const SOURCES = `sources:\n  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }\n`

function failure(text: string): ConfigError {
  try {
    parseConfig(text, {}, 'config.yaml')
  } catch (error) {
    if (error instanceof ConfigError) return error
    throw error
  }
  throw new Error('config was accepted')
}
const problems = (text: string) => failure(text).problems

describe('config error messages', () => {
  it('a YAML syntax error is one message with the line, the column and a caret under it', () => {
    const text = 'server:\n  port: 8080\n sources: [oops\nsinks: {}\n'
    const error = failure(text)
    expect(error.problems).toEqual([
      [
        'YAML syntax error at line 3, column 1: All mapping items must start at the same column',
        '  2 |   port: 8080',
        '> 3 |  sources: [oops',
        '    | ^',
      ].join('\n'),
    ])
    // Printed under its dash, the frame keeps its columns.
    expect(error.message).toContain('\n    > 3 |  sources: [oops\n        | ^')
  })

  it('the caret points at the column of the first error', () => {
    const [problem] = problems(`${SOURCES}routes:\n  - to: [disk\n    when: {}\n`)
    const [head, ...frame] = problem!.split('\n')
    const column = Number(/column (\d+)/.exec(head!)?.[1])
    expect(head).toMatch(/^YAML syntax error at line \d+, column \d+: /)
    expect(frame.at(-1)!.indexOf('^') - frame.at(-1)!.indexOf('|') - 2).toBe(column - 1)
  })

  it('a wrong type says what was expected and what the YAML holds, at its path', () => {
    expect(problems(`server:\n  port: 80a\n${SOURCES}`)).toEqual(['server.port: expected a number, got the text "80a"'])
    expect(problems(`server: { host: 8080 }\n${SOURCES}`)).toEqual([
      'server.host: expected a text, got the number 8080',
    ])
    expect(problems(`${SOURCES}server: { trustProxy: "yes" }\n`)).toEqual([
      'server.trustProxy: expected true or false, got the text "yes"',
    ])
    expect(problems(`${SOURCES}routes:\n  - when: { type: 5 }\n    to: [x]\n`)).toEqual(
      expect.arrayContaining(['routes[0].when.type: expected a text or a list, got the number 5']),
    )
    expect(problems('sources:\n  millicast: { path: /h }\n')).toEqual([
      'sources.millicast.secrets: missing: expected a list',
    ])
    expect(problems(`${SOURCES}server: { port: 70000 }\n`)).toEqual(['server.port: must be at most 65535'])
    expect(problems(`${SOURCES}log: { level: loud }\n`)).toEqual([
      'log.level: expected one of debug, info, warn, error, got the text "loud"',
    ])
  })

  it('an unknown sink, notifier or spool type lists the valid ones', () => {
    expect(problems(`${SOURCES}sinks:\n  cloud: { type: s4, bucket: b }\n`)).toEqual([
      'sinks.cloud.type: unknown type "s4"; valid types: fs, s3, gcs',
    ])
    expect(problems(`${SOURCES}notifiers:\n  chat: { type: slak, token: t, channel: C1 }\n`)).toEqual([
      'notifiers.chat.type: unknown type "slak"; valid types: http, slack (did you mean `slack`?)',
    ])
    expect(problems(`${SOURCES}notifiers:\n  chat: { url: "https://example.com" }\n`)).toEqual([
      'notifiers.chat.type: missing: expected one of http, slack',
    ])
    expect(problems(`${SOURCES}spool: { type: natz }\n`)).toEqual([
      'spool.type: unknown type "natz"; valid types: local, nats, s3 (did you mean `nats`?)',
    ])
  })

  it('a near-miss key gets the key meant, and only that message', () => {
    const slack = `${SOURCES}notifiers:\n  chat: { type: slack, webhookURL: "https://hooks.slack.com/x", image: false }\n`
    expect(problems(slack)).toEqual(['notifiers.chat: unknown key "webhookURL" (did you mean `webhookUrl`?)'])
    expect(problems(`${SOURCES}sinks:\n  disk: { type: fs, dri: ./data }\n`)).toEqual([
      'sinks.disk: unknown key "dri" (did you mean `dir`?)',
    ])
    // Nothing close: no guess.
    expect(problems(`${SOURCES}server: { colour: blue }\n`)).toEqual(['server: unknown key "colour"'])
  })

  it('edit distance and the closest candidate', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3)
    expect(editDistance('', 'abc')).toBe(3)
    expect(closest('webhookURL', ['url', 'webhookUrl', 'token'])).toBe('webhookUrl')
    expect(closest('sinkz', ['sources', 'sinks', 'spool'])).toBe('sinks')
    expect(closest('url', ['dir', 'key'])).toBeUndefined()
    expect(closest('retentoin', ['retention', 'key'])).toBe('retention')
  })
})
