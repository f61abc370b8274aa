#!/usr/bin/env node
// The `hookcast` command. Node 20 cannot run TypeScript by itself, so tsx is registered first.
import { register } from 'tsx/esm/api'

register()
const [command] = process.argv.slice(2)
if (command === 'serve' || command === undefined) {
  await import('../adapters/node.ts')
} else {
  const { main } = await import('../src/cli/main.ts')
  process.exitCode = await main(process.argv.slice(2), process.env)
}
