/**
 * W3C Trace Context `traceparent` values: what an accepted event keeps of its span (the queue stores it with the
 * event, so its delivery attempts, possibly in another process and much later, are its children) and what an HTTP
 * destination is sent.
 * @module
 */
import { isSpanContextValid, ROOT_CONTEXT, trace, type Context, type Span } from '@opentelemetry/api'

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

export function traceparentOf(span: Span): string {
  const { traceId, spanId, traceFlags } = span.spanContext()
  return `00-${traceId}-${spanId}-${(traceFlags & 0xff).toString(16).padStart(2, '0')}`
}

/** The context whose span `traceparent` names, as a parent for new spans; the root context when there is none. */
export function contextOf(traceparent: string | undefined): Context {
  const match = traceparent === undefined ? null : TRACEPARENT.exec(traceparent)
  if (!match) return ROOT_CONTEXT
  const parent = { traceId: match[1]!, spanId: match[2]!, traceFlags: Number.parseInt(match[3]!, 16), isRemote: true }
  return isSpanContextValid(parent) ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT
}
