/**
 * `npm run build:lambda [-- --config FILE] [--outdir DIR]`: bundles adapters/lambda.ts into one ESM file for AWS
 * Lambda (Node.js 20 or 22 runtime), `dist/lambda/index.mjs`, with every dependency inside (the AWS SDK too: the
 * runtime's copy is whatever version AWS ships). Next to it go the admin page's style and script, which
 * src/admin/page-html.ts reads at start from beside the code (`new URL('./page.css', import.meta.url)`), and, with
 * `--config`, the config as `hookcast.yaml` (then set HOOKCAST_CONFIG=hookcast.yaml). template.yaml deploys the
 * directory as it is (CodeUri).
 */
import { build } from 'esbuild'
import { copyFileSync, mkdirSync, rmSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const { values } = parseArgs({ options: { config: { type: 'string' }, outdir: { type: 'string' } } })
const outdir = values.outdir ?? join(root, 'dist', 'lambda')

/** The files the bundle reads beside itself at start. */
export const LAMBDA_ASSETS = ['page.css', 'page.js', 'login.css']

rmSync(outdir, { recursive: true, force: true })
mkdirSync(outdir, { recursive: true })
const result = await build({
  entryPoints: [join(root, 'adapters', 'lambda.ts')],
  outfile: join(outdir, 'index.mjs'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // Bundled CommonJS packages call require() for Node's own modules and read __dirname; an ES module has neither.
  banner: {
    js: [
      "import { createRequire as __hookcastRequire } from 'node:module';",
      "import { fileURLToPath as __hookcastPath } from 'node:url';",
      'const require = __hookcastRequire(import.meta.url);',
      'const __filename = __hookcastPath(import.meta.url);',
      "const __dirname = __hookcastPath(new URL('.', import.meta.url));",
    ].join('\n'),
  },
  // Not minified: stack traces in the function's log keep their names.
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
})
for (const asset of LAMBDA_ASSETS) copyFileSync(join(root, 'src', 'admin', asset), join(outdir, asset))
if (values.config) copyFileSync(values.config, join(outdir, 'hookcast.yaml'))

const size = statSync(join(outdir, 'index.mjs')).size
const inputs = Object.keys(result.metafile.inputs).length
console.log(
  `${relative(process.cwd(), join(outdir, 'index.mjs')) || 'index.mjs'}: ${(size / 1024 / 1024).toFixed(1)} MiB from ${inputs} files` +
    `; beside it: ${[...LAMBDA_ASSETS, ...(values.config ? ['hookcast.yaml'] : [])].join(', ')}`,
)
