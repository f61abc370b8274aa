/**
 * Preloaded into a Bun gateway (BUN_OPTIONS=--preload=...): a tripwire on the OpenTelemetry SDK's packages. It writes
 * `preloaded` to the file MODULE_SPY_FILE names, then the path of each SDK module something loads (handing back an
 * empty module: a test that uses it expects none to load).
 */
import { appendFileSync } from 'node:fs'

/** The part of Bun's plugin API this file uses. */
declare const Bun: {
  plugin(options: {
    name: string
    setup(build: {
      onLoad(options: { filter: RegExp }, load: (args: { path: string }) => { contents: string; loader: 'js' }): void
    }): void
  }): void
}

const file = process.env.MODULE_SPY_FILE!
appendFileSync(file, 'preloaded\n')
Bun.plugin({
  name: 'opentelemetry-sdk-tripwire',
  setup(build) {
    build.onLoad({ filter: /node_modules\/@opentelemetry\/(sdk-trace|resources|exporter-trace|otlp-)/ }, (args) => {
      appendFileSync(file, `${args.path}\n`)
      return { contents: 'export {}', loader: 'js' }
    })
  },
})
