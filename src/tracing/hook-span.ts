/**
 * The span of one webhook request (`hookcast.hook`): its source, and once parsed the hook's kind, event, id and
 * stream, then its outcome and status code. Never its body, headers or signature.
 * @module
 */
import { SpanKind, SpanStatusCode, type Span } from '@opentelemetry/api'
import type { HookEvent } from '../events/types.ts'
import { activeTracer } from './tracer.ts'
import { traceparentOf } from './traceparent.ts'

/** A span for a request to `source`, or undefined with tracing off. */
export function startHookSpan(source: string): Span | undefined {
  return activeTracer()?.startSpan('hookcast.hook', {
    kind: SpanKind.SERVER,
    attributes: { 'hookcast.source': source },
  })
}

/** Tags the span with what the hook is, and the event with the span, for its deliveries (before it is queued). */
export function hookParsed(span: Span, event: HookEvent): void {
  event.traceparent = traceparentOf(span)
  if (!span.isRecording()) return
  span.setAttributes({
    'hookcast.hook.kind': event.type,
    'hookcast.hook.event': event.event,
    'hookcast.hook.id': event.id,
  })
  if (event.streamId !== undefined) span.setAttribute('hookcast.stream.id', event.streamId)
}

/** Ends the span with the answer: `accepted` or the refusal's reason, and its status (a 5xx is an error). */
export function endHookSpan(
  span: Span,
  status: number,
  outcome: string,
  accepted?: { duplicate: boolean; destinations: number },
): void {
  span.setAttributes({ 'http.response.status_code': status, 'hookcast.outcome': outcome })
  if (accepted) {
    span.setAttributes({ 'hookcast.duplicate': accepted.duplicate, 'hookcast.destinations': accepted.destinations })
  }
  if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: outcome })
  span.end()
}
