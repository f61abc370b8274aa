/**
 * `npm run build:lambda`'s output on its own: bin/build-lambda.ts bundles into a temp directory, which is then
 * loaded by plain `node` (no tsx, no node_modules anywhere above it), as the Lambda runtime loads `index.handler`:
 * a thumbnail through a Function URL event is stored byte for byte, the admin page (whose style and script sit beside
 * the bundle) is served, and `scheduled` runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { isBuiltin } from 'node:module'
import { fileURLToPath } from 'node:url'
import { jpeg, PAYLOADS, SECRET, signedJson, signedThumbnail } from '../support/hooks.ts'
import { listFiles, tempDir } from '../support/files.ts'
import { functionUrlEvent, scheduleEvent } from './events.ts'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../..', import.meta.url))
const ADMIN_TOKEN = 'bundle-admin-token-0123456789abcdef'

/** Loads the bundle the way the Lambda runtime does (an ES module, `handler` and `scheduled` exports) and invokes it. */
const RUNNER = `
const [bundle, eventsFile] = process.argv.slice(2)
const fn = await import(bundle)
const context = { getRemainingTimeInMillis: () => 20_000, functionName: 'hookcast', awsRequestId: 'local' }
const results = []
for (const event of JSON.parse((await import('node:fs')).readFileSync(eventsFile, 'utf8'))) {
  results.push(event.source === 'aws.events' ? await fn.scheduled(event, context) : await fn.handler(event, context))
}
console.log('RESULTS ' + JSON.stringify(results))
`

describe('the Lambda bundle', () => {
  const dir = tempDir('hookcast-bundle-')
  const fn = join(dir.path, 'function')

  beforeAll(async () => {
    await run(process.execPath, ['--import', 'tsx', join(root, 'bin', 'build-lambda.ts'), '--outdir', fn], {
      cwd: root,
      timeout: 120_000,
    })
  }, 180_000)
  afterAll(() => dir.remove())

  it('is one ESM file with the admin page assets beside it', () => {
    expect(listFiles(fn)).toEqual(['index.mjs', 'login.css', 'page.css', 'page.js'])
    // Everything is inside but Node's own modules.
    const imported = [
      ...readFileSync(join(fn, 'index.mjs'), 'utf8').matchAll(/^import .* from ["']([^"']+)["'];?$/gm),
    ].map((m) => m[1]!)
    expect(imported.length).toBeGreaterThan(0)
    expect(imported.filter((name) => !isBuiltin(name))).toEqual([])
  })

  it('runs on plain Node as the Lambda runtime loads it', async () => {
    expect(existsSync(join(dir.path, 'node_modules'))).toBe(false)
    const data = join(dir.path, 'data')
    const thumbnail = await signedThumbnail({ body: jpeg('bundle', 200_000) })
    const feed = await signedJson(PAYLOADS.mediaCompleted)
    const path = '/hooks/millicast'
    const page = { ...functionUrlEvent('/', feed), body: undefined, isBase64Encoded: false }
    page.requestContext = { ...page.requestContext, http: { ...page.requestContext.http, method: 'GET', path: '/' } }
    const events = [functionUrlEvent(path, thumbnail), functionUrlEvent(path, feed), page, scheduleEvent()]
    const eventsFile = join(dir.path, 'events.json')
    writeFileSync(eventsFile, JSON.stringify(events))
    const runner = join(dir.path, 'runner.mjs')
    writeFileSync(runner, RUNNER)
    const config = `
sources:
  millicast: { path: ${path}, secrets: ["\${MILLICAST_WEBHOOK_SECRET}"] }
sinks:
  disk: { type: fs, dir: "${data}", key: "{type}/{id}.{ext}" }
routes: [{ to: [disk] }]
spool: { dir: "${join(dir.path, 'spool')}" }
admin: { token: "\${HOOKCAST_ADMIN_TOKEN}" }
`
    const { stdout } = await run(process.execPath, [runner, join(fn, 'index.mjs'), eventsFile], {
      cwd: dir.path,
      timeout: 60_000,
      env: {
        PATH: process.env.PATH,
        HOOKCAST_CONFIG_YAML: config,
        MILLICAST_WEBHOOK_SECRET: SECRET,
        HOOKCAST_ADMIN_TOKEN: ADMIN_TOKEN,
        HOOKCAST_LOG_LEVEL: 'warn',
      },
    })
    const line = stdout.split('\n').find((l) => l.startsWith('RESULTS '))
    expect(line, stdout).toBeDefined()
    const [stored, json, html, scheduled] = JSON.parse(line!.slice('RESULTS '.length)) as [
      { statusCode: number; body: string },
      { statusCode: number; body: string },
      { statusCode: number; body: string; headers: Record<string, string> },
      { delivered: number },
    ]
    expect(stored.statusCode, stored.body).toBe(200)
    const id = (JSON.parse(stored.body) as { id: string }).id
    expect(new Uint8Array(readFileSync(join(data, 'thumbnail', `${id}.jpg`)))).toEqual(thumbnail.body)
    expect(json.statusCode).toBe(200)
    expect(readFileSync(join(data, 'media', `${(JSON.parse(json.body) as { id: string }).id}.json`))).toEqual(
      Buffer.from(feed.body),
    )
    expect(html.statusCode).toBe(200)
    expect(html.headers['content-type']).toMatch(/text\/html/)
    expect(html.body).toContain('<style>')
    expect(scheduled.delivered).toBe(0)
  }, 60_000)
})
