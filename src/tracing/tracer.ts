/**
 * The tracer the core's spans come from. There is none until an adapter has registered an OpenTelemetry SDK (or
 * found Deno's) and called `useTracing`: with tracing off a hook or an attempt pays one undefined check, and makes
 * no span, not even the API's no-op one.
 * @module
 */
import { trace, type Tracer } from '@opentelemetry/api'

let tracer: Tracer | undefined
let fetchSendsTraceparent = false

/**
 * Spans from now on, through the tracer provider registered with @opentelemetry/api. `fetchSendsTraceparent`: the
 * runtime's fetch adds a `traceparent` of its own (Deno's built-in OpenTelemetry), so hookcast must not add one too
 * (two values make the header invalid).
 */
export function useTracing(options: { fetchSendsTraceparent?: boolean } = {}): void {
  tracer = trace.getTracer('hookcast')
  fetchSendsTraceparent = options.fetchSendsTraceparent ?? false
}

/** Whether an HTTP destination should add `traceparent` itself. */
export function addsTraceparent(): boolean {
  return !fetchSendsTraceparent
}

export function activeTracer(): Tracer | undefined {
  return tracer
}
