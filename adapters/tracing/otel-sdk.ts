/**
 * Tracing on Node and Bun (and Deno without OTEL_DENO): the OpenTelemetry SDK's BasicTracerProvider, batching spans
 * to the OTLP/HTTP exporter, both configured by the standard OTEL_* variables. Loaded only when those variables ask
 * for traces (dynamic imports), so a gateway without them loads none of the SDK.
 * @module
 */
import { trace } from '@opentelemetry/api'
import type { Env } from '../../src/config/interpolate.ts'
import type { Logger } from '../../src/log.ts'
import { useTracing } from '../../src/tracing/tracer.ts'
import { tracesEndpoint } from '../../src/tracing/wanted.ts'

export interface TracingExport {
  /** Exports the spans buffered so far (a Lambda invocation, before it returns). */
  flush(): Promise<void>
  /** Exports what is left and stops (shutting down). */
  shutdown(): Promise<void>
}

let started: Promise<TracingExport | undefined> | undefined

/**
 * Registers the SDK when `env` asks for traces; undefined when it does not, or when the SDK cannot load. Once per
 * process (the tracer provider is global): a second call gets the first one's result.
 */
export function startOtelSdk(env: Env, log: Logger): Promise<TracingExport | undefined> {
  started ??= register(env, log)
  return started
}

async function register(env: Env, log: Logger): Promise<TracingExport | undefined> {
  const endpoint = tracesEndpoint(env)
  if (endpoint === undefined) return undefined
  try {
    const [sdk, resources, { OTLPTraceExporter }] = await Promise.all([
      import('@opentelemetry/sdk-trace-base'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/exporter-trace-otlp-http'),
    ])
    // service.name is hookcast unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES say otherwise.
    const resource = resources
      .defaultResource()
      .merge(resources.resourceFromAttributes({ 'service.name': 'hookcast' }))
      .merge(resources.detectResources({ detectors: [resources.envDetector] }))
    const provider = new sdk.BasicTracerProvider({
      resource,
      spanProcessors: [new sdk.BatchSpanProcessor(new OTLPTraceExporter())],
    })
    trace.setGlobalTracerProvider(provider)
    useTracing()
    log.info('tracing on: spans exported over OTLP/HTTP', { endpoint })
    return { flush: () => provider.forceFlush(), shutdown: () => provider.shutdown() }
  } catch (error) {
    log.error('tracing off: the OpenTelemetry SDK cannot load', { error: String(error) })
    return undefined
  }
}
