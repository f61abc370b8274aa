/**
 * A small OTLP/HTTP trace receiver standing in for a collector: a local server that takes POST /v1/traces in OTLP
 * JSON (what the OpenTelemetry JS exporter sends, and Deno's with OTEL_EXPORTER_OTLP_PROTOCOL=http/json) and keeps
 * every span, flattened. Other signals (Deno also sends logs and metrics) are answered and counted, not kept.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

type AttributeValue = string | number | boolean

export interface ReceivedSpan {
  traceId: string
  spanId: string
  /** Undefined for a root span. */
  parentSpanId: string | undefined
  name: string
  /** The resource's `service.name`. */
  service: string
  attributes: Record<string, AttributeValue>
  /** 0 unset, 1 ok, 2 error. */
  statusCode: number
}

export interface OtlpReceiver {
  /** For OTEL_EXPORTER_OTLP_ENDPOINT. */
  endpoint: string
  spans: ReceivedSpan[]
  /** What it could not read (a body that is not OTLP JSON): a test expects none. */
  problems: string[]
  close(): Promise<void>
}

interface OtlpValue {
  stringValue?: string
  intValue?: string | number
  doubleValue?: number
  boolValue?: boolean
}
interface OtlpAttribute {
  key: string
  value: OtlpValue
}
interface OtlpSpan {
  traceId: string
  spanId: string
  parentSpanId?: string
  name: string
  attributes?: OtlpAttribute[]
  status?: { code?: number }
}
interface OtlpTraces {
  resourceSpans: { resource?: { attributes?: OtlpAttribute[] }; scopeSpans: { spans?: OtlpSpan[] }[] }[]
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const receiver: OtlpReceiver = { endpoint: '', spans: [], problems: [], close: async () => {} }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces') {
        try {
          if (!req.headers['content-type']?.startsWith('application/json')) throw new Error('not OTLP JSON')
          receiver.spans.push(...flatten(JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpTraces))
        } catch (error) {
          receiver.problems.push(`${req.headers['content-type']}: ${(error as Error).message}`)
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  receiver.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return receiver
}

function flatten(traces: OtlpTraces): ReceivedSpan[] {
  return traces.resourceSpans.flatMap((resourceSpans) => {
    const service = String(attributesOf(resourceSpans.resource?.attributes)['service.name'] ?? '')
    return resourceSpans.scopeSpans.flatMap((scope) =>
      (scope.spans ?? []).map((span) => ({
        traceId: span.traceId,
        spanId: span.spanId,
        parentSpanId: span.parentSpanId || undefined,
        name: span.name,
        service,
        attributes: attributesOf(span.attributes),
        statusCode: span.status?.code ?? 0,
      })),
    )
  })
}

/** OTLP JSON's typed values as plain ones (an int64 may come as a string). */
function attributesOf(attributes: OtlpAttribute[] = []): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {}
  for (const { key, value } of attributes) {
    if (value.intValue !== undefined) out[key] = Number(value.intValue)
    else out[key] = value.stringValue ?? value.doubleValue ?? value.boolValue ?? ''
  }
  return out
}
