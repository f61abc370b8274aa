// Just the parts of the untyped dev dependencies the benchmark uses.

declare module 'autocannon' {
  interface Result {
    errors: number
    timeouts: number
    '2xx': number
    non2xx: number
  }
  function autocannon(options: Record<string, unknown>): Promise<Result>
  export default autocannon
}

declare module 'express' {
  import type { IncomingMessage, ServerResponse, Server } from 'node:http'
  interface Request extends IncomingMessage {
    body: unknown
  }
  interface Response extends ServerResponse {
    status(code: number): Response
    json(value: unknown): Response
    end(): this
  }
  type Handler = (req: Request, res: Response, next: (error?: unknown) => void) => unknown
  interface App {
    use(handler: Handler): void
    post(path: string, ...handlers: Handler[]): void
    listen(port: number, host: string, callback: () => void): Server
  }
  interface Express {
    (): App
    raw(options: { type: string | ((req: IncomingMessage) => boolean); limit: string | number }): Handler
  }
  const express: Express
  export default express
}
