#!/usr/bin/env node
// The `hookcast` command: the JavaScript `npm run build` emits into dist/node (Node runs no TypeScript here; the
// published package ships dist/node, and a git checkout builds it at `npm install`).
import { existsSync } from 'node:fs'

const dist = new URL('../dist/node/', import.meta.url)
if (!existsSync(new URL('src/cli/main.js', dist))) {
  console.error(
    'hookcast: dist/node is missing: run `npm run build` in the hookcast directory first (`npm install` does)',
  )
  process.exit(1)
}
const { main } = await import(new URL('src/cli/main.js', dist).href)
// `serve` with good options starts the gateway in this process; every other answer is an exit status.
const outcome = await main(process.argv.slice(2), process.env)
if (outcome === 'serve') await import(new URL('adapters/node.js', dist).href)
else process.exitCode = outcome
