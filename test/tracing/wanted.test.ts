import { describe, expect, it } from 'vitest'
import { tracesEndpoint } from '../../src/tracing/wanted.ts'

describe('tracesEndpoint', () => {
  it('is undefined when no variable asks for traces', () => {
    expect(tracesEndpoint({})).toBeUndefined()
    expect(tracesEndpoint({ OTEL_SERVICE_NAME: 'hookcast', OTEL_EXPORTER_OTLP_ENDPOINT: ' ' })).toBeUndefined()
  })

  it("names the endpoint's origin only (never credentials or a path)", () => {
    expect(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://user:pw@collector:4318/x' })).toBe(
      'https://collector:4318',
    )
    expect(
      tracesEndpoint({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://all:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:4318/v1/traces',
      }),
    ).toBe('http://traces:4318')
    expect(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' })).toBe('an invalid URL')
  })

  it('takes OTEL_TRACES_EXPORTER=otlp alone as the default endpoint', () => {
    expect(tracesEndpoint({ OTEL_TRACES_EXPORTER: 'otlp' })).toBe('http://localhost:4318')
  })

  it('is undefined when the SDK or the traces exporter is turned off', () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }
    expect(tracesEndpoint({ ...endpoint, OTEL_SDK_DISABLED: 'TRUE' })).toBeUndefined()
    expect(tracesEndpoint({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' })).toBeUndefined()
    expect(tracesEndpoint({ ...endpoint, OTEL_SDK_DISABLED: 'false' })).toBe('http://collector:4318')
  })
})
