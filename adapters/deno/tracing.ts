/**
 * Tracing on Deno. With OTEL_DENO=true, Deno's built-in OpenTelemetry registers its tracer provider with
 * @opentelemetry/api and exports the spans itself (beside its own for Deno.serve and fetch, and console lines as
 * logs), reading the same OTEL_* variables; it exports what is left when the process exits. Without it, the
 * OpenTelemetry SDK as on Node, when the variables ask for traces.
 * @module
 */
import type { Env } from '../../src/config/interpolate.ts'
import type { Logger } from '../../src/log.ts'
import { useTracing } from '../../src/tracing/tracer.ts'
import { tracesEndpoint } from '../../src/tracing/wanted.ts'
import { startOtelSdk, type TracingExport } from '../tracing/otel-sdk.ts'

export async function startDenoTracing(env: Env, log: Logger): Promise<TracingExport | undefined> {
  const builtIn = env.OTEL_DENO?.trim().toLowerCase()
  if (builtIn !== 'true' && builtIn !== '1') return startOtelSdk(env, log)
  useTracing({ fetchSendsTraceparent: true })
  const endpoint = tracesEndpoint(env) ?? 'http://localhost:4318'
  log.info("tracing on: Deno's built-in OpenTelemetry exports the spans", { endpoint })
  if (env.OTEL_DENO_CONSOLE?.trim().toLowerCase() !== 'ignore') {
    log.warn(
      'Deno exports every console line as an OpenTelemetry log, sign-in links too: OTEL_DENO_CONSOLE=ignore stops it',
    )
  }
  return undefined
}
