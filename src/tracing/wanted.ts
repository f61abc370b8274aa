/**
 * Whether the standard OpenTelemetry variables ask for traces: an OTLP endpoint set (or `OTEL_TRACES_EXPORTER=otlp`,
 * whose default endpoint is localhost:4318), and neither `OTEL_SDK_DISABLED=true` nor `OTEL_TRACES_EXPORTER=none`.
 * @module
 */
import type { Env } from '../config/interpolate.ts'

/** Where the spans go (the endpoint's origin: the log may show it, a URL's credentials never), or undefined. */
export function tracesEndpoint(env: Env): string | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((name) => name.trim().toLowerCase())
  if (exporters.includes('none')) return undefined
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim()
  if (endpoint) return URL.canParse(endpoint) ? new URL(endpoint).origin : 'an invalid URL'
  return exporters.includes('otlp') ? 'http://localhost:4318' : undefined
}
