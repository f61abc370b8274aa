/**
 * The parts of Bun's API the Bun entry touches, declared here rather than with `@ts-ignore` or a types package.
 * @module
 */

export interface BunServer {
  requestIP(request: Request): { address: string } | null
}

/** A request to one of `routes`: its parameters, percent-decoded, as the target was sent. */
export type RouteRequest = Request & { params: Record<string, string> }

type Handler<R extends Request> = (request: R, server: BunServer) => Response | Promise<Response>

export interface BunGlobal {
  argv: string[]
  env: Record<string, string | undefined>
  version: string
  serve(options: {
    port: number
    hostname: string
    maxRequestBodySize: number
    /** Seconds a connection may go without sending or receiving (Bun's default is 10, at most 255). */
    idleTimeout: number
    /** Matched on the request target as sent, before dot segments are resolved (request.url has them resolved). */
    routes: Record<string, Handler<RouteRequest>>
    /** Requests no route matches. */
    fetch: Handler<Request>
  }): { port: number; stop(closeActiveConnections?: boolean): Promise<void> }
}
