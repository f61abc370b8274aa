/**
 * `npm run build [-- --no-check] [--if-changed]`: the JavaScript Node runs (`npm start`, the `hookcast` command, the
 * npm package), in dist/node/. tsc emits src/ and adapters/node.ts as tsconfig.build.json says, type-checked unless
 * `--no-check`; then every file under src/ that is not TypeScript (what the code reads beside itself at run time:
 * the admin page's page.js, page.css and login.css, the CLI's sample-frame.jpg) is copied next to its module.
 *
 * Plain JavaScript, so it runs on a fresh clone before anything is built (`npm install` runs it as `prepare`).
 * The new tree is made aside and then renamed into place, so a gateway starting from dist/node meanwhile (another
 * test run in the same checkout) never reads half of one. `--if-changed` does nothing when dist/node was built from
 * the same inputs (their hash is kept in dist/node/.inputs).
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { copyFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const root = fileURLToPath(new URL('..', import.meta.url))
const out = join(root, 'dist', 'node')
const { values } = parseArgs({ options: { 'no-check': { type: 'boolean' }, 'if-changed': { type: 'boolean' } } })
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')

/** Every file under `dir`, relative to the repository, sorted. */
function filesUnder(dir) {
  return readdirSync(join(root, dir), { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)]))
    .sort()
}

const sources = filesUnder('src')
const assets = sources.filter((file) => !file.endsWith('.ts'))
// Every adapter file, as adapters/node.ts imports some of its neighbours (adapters/tracing/).
const inputs = [...sources, ...filesUnder('adapters'), 'tsconfig.json', 'tsconfig.build.json', 'bin/build.mjs']
const hash = createHash('sha256').update(readFileSync(join(dirname(tsc), '..', 'package.json'))) // the TypeScript version
for (const file of inputs)
  hash
    .update(`${file}\0`)
    .update(readFileSync(join(root, file)))
    .update('\0')
const digest = hash.digest('hex')

const built = (() => {
  try {
    return readFileSync(join(out, '.inputs'), 'utf8')
  } catch {
    return undefined
  }
})()
if (values['if-changed'] && built === digest) {
  console.log('dist/node: up to date')
  process.exit(0)
}

const started = performance.now()
const aside = join(root, 'dist', `.node-${process.pid}`)
rmSync(aside, { recursive: true, force: true })
const args = [
  tsc,
  '-p',
  join(root, 'tsconfig.build.json'),
  '--outDir',
  aside,
  ...(values['no-check'] ? ['--noCheck'] : []),
]
const { status } = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' })
if (status !== 0) {
  rmSync(aside, { recursive: true, force: true })
  console.error(`dist/node: not built (tsc exited with ${status})`)
  process.exit(status ?? 1)
}
for (const asset of assets) {
  mkdirSync(dirname(join(aside, asset)), { recursive: true })
  copyFileSync(join(root, asset), join(aside, asset))
}
writeFileSync(join(aside, '.inputs'), digest)

// Swap: the old tree aside, the new one in. Another build finishing at the same moment may win the second rename;
// its tree came from the same sources, so this one is dropped.
const old = join(root, 'dist', `.node-old-${process.pid}`)
try {
  renameSync(out, old)
} catch (error) {
  if (error.code !== 'ENOENT') throw error
}
try {
  renameSync(aside, out)
} catch (error) {
  if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error
}
rmSync(old, { recursive: true, force: true })
rmSync(aside, { recursive: true, force: true })

const seconds = ((performance.now() - started) / 1000).toFixed(1)
console.log(
  `${relative(process.cwd(), out) || '.'}: built in ${seconds} s (${values['no-check'] ? 'not type-checked' : 'type-checked'})` +
    `, with ${assets.map((asset) => relative('src', asset)).join(', ')}`,
)
