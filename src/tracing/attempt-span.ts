/**
 * The span of one delivery attempt (`hookcast.delivery`): its destination, the attempt's number and outcome, as a
 * child of the span that accepted the event (the `traceparent` stored with it), so one trace shows a hook and every
 * attempt at each of its deliveries, however much later and on whichever instance they are made.
 * @module
 */
import { context, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api'
import type { HookEvent } from '../events/types.ts'
import type { Destination } from '../destinations/types.ts'
import { activeTracer, addsTraceparent } from './tracer.ts'
import { contextOf, traceparentOf } from './traceparent.ts'

/** How an attempt ended: `deferred` and `released` (shutting down) are not counted as attempts. */
export type AttemptOutcome = 'delivered' | 'retry' | 'dead' | 'deferred' | 'released'

/** A span for attempt number `attempt` to `name`, or undefined with tracing off. */
export function startAttemptSpan(
  name: string,
  destination: Destination | undefined,
  attempt: number,
  event: HookEvent | undefined,
): Span | undefined {
  const tracer = activeTracer()
  if (!tracer) return undefined
  const span = tracer.startSpan(
    'hookcast.delivery',
    {
      kind: destination?.kind === 'internal' ? SpanKind.INTERNAL : SpanKind.CLIENT,
      attributes: { 'hookcast.destination': name, 'hookcast.delivery.attempt': attempt },
    },
    contextOf(event?.traceparent),
  )
  if (span.isRecording() && destination) span.setAttribute('hookcast.destination.kind', destination.kind)
  if (span.isRecording() && event) {
    span.setAttributes({
      'hookcast.hook.kind': event.type,
      'hookcast.hook.event': event.event,
      'hookcast.hook.id': event.id,
    })
    if (event.streamId !== undefined) span.setAttribute('hookcast.stream.id', event.streamId)
  }
  return span
}

/**
 * Calls the destination within the attempt's span: given the span's `traceparent` to send on (unless the runtime's
 * fetch adds one), and with the span active where the runtime keeps an active context (Deno's built-in
 * OpenTelemetry), so that spans the runtime makes itself, such as a fetch's, are the attempt's children.
 */
export function deliverInSpan(
  span: Span,
  destination: Destination,
  event: HookEvent,
  signal: AbortSignal,
): Promise<void> {
  const traceparent = addsTraceparent() ? traceparentOf(span) : undefined
  return context.with(trace.setSpan(context.active(), span), () => destination.deliver(event, signal, traceparent))
}

/** Ends the span with the outcome; `error` is the message the log and the dead letter show (never a secret). */
export function endAttemptSpan(span: Span, outcome: AttemptOutcome, error?: string): void {
  span.setAttribute('hookcast.delivery.outcome', outcome)
  if (outcome === 'retry' || outcome === 'dead') span.setStatus({ code: SpanStatusCode.ERROR, message: error ?? '' })
  else if (error !== undefined) span.setAttribute('hookcast.delivery.reason', error)
  span.end()
}
