/**
 * A real local HTTP server standing in for a webhook receiver (and, later, Slack): it records every request and
 * answers as the test tells it to.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface RecordedRequest {
  method: string
  path: string
  headers: IncomingHttpHeaders
  body: Buffer
  at: number
}

export interface Answer {
  status?: number
  headers?: Record<string, string>
  body?: string | Buffer
  /** Wait this long before answering. */
  delayMs?: number
}

export interface Receiver {
  url: string
  requests: RecordedRequest[]
  /** Decides each answer; the default is 200 with `{"ok":true}`. */
  answer: (request: RecordedRequest) => Answer | Promise<Answer>
  close(): Promise<void>
}

export async function startReceiver(): Promise<Receiver> {
  const receiver: Receiver = {
    url: '',
    requests: [],
    answer: () => ({}),
    close: async () => {},
  }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', async () => {
      const request = {
        method: req.method!,
        path: req.url!,
        headers: req.headers,
        body: Buffer.concat(chunks),
        at: Date.now(),
      }
      receiver.requests.push(request)
      const answer = await receiver.answer(request)
      if (answer.delayMs) await new Promise((resolve) => setTimeout(resolve, answer.delayMs))
      res.writeHead(answer.status ?? 200, { 'content-type': 'application/json', ...answer.headers })
      res.end(answer.body ?? '{"ok":true}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return receiver
}
