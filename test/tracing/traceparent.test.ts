import { describe, expect, it } from 'vitest'
import { trace, TraceFlags } from '@opentelemetry/api'
import { contextOf, traceparentOf } from '../../src/tracing/traceparent.ts'

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
const spanId = '00f067aa0ba902b7'

describe('traceparent', () => {
  it('writes a span as a W3C traceparent and reads it back as a remote parent', () => {
    const span = trace.wrapSpanContext({ traceId, spanId, traceFlags: TraceFlags.SAMPLED })
    const value = traceparentOf(span)
    expect(value).toBe(`00-${traceId}-${spanId}-01`)
    expect(trace.getSpanContext(contextOf(value))).toEqual({ traceId, spanId, traceFlags: 1, isRemote: true })
    const unsampled = trace.wrapSpanContext({ traceId, spanId, traceFlags: TraceFlags.NONE })
    expect(trace.getSpanContext(contextOf(traceparentOf(unsampled)))?.traceFlags).toBe(0)
  })

  it('gives no parent for a missing, malformed or all-zero value', () => {
    for (const value of [
      undefined,
      '',
      `01-${traceId}-${spanId}-01`,
      `00-${traceId}-${spanId}`,
      `00-${traceId.toUpperCase()}-${spanId}-01`,
      `00-${'0'.repeat(32)}-${spanId}-01`,
      `00-${traceId}-${'0'.repeat(16)}-01`,
    ])
      expect(trace.getSpanContext(contextOf(value))).toBeUndefined()
  })
})
