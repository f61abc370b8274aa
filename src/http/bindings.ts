/**
 * What a runtime adapter hands the app with each request, as Hono's `c.env` (the way @hono/node-server and Bun
 * pass their own): things a fetch handler cannot see on the Request itself.
 * @module
 */

export interface Bindings {
  /**
   * The body as the server's own chunk iterator (Node's IncomingMessage; Bun's one buffered read), so it is read
   * without a Web stream built around it. Returning from the iterator must stop reading without closing the
   * connection, so a 413 can still be answered.
   */
  body?: AsyncIterable<Uint8Array>
  /** The peer address of the request's connection, for per-client limits. */
  clientAddress?: string
  /**
   * The request target's path as the client sent it, where the Request's URL is already normalised (Node, Bun,
   * Lambda): dot segments are refused on it before routing (plain-path.ts). Without it, the Request's URL is
   * checked (Deno keeps the target as sent).
   */
  rawPath?: string
}

/** The bindings of a request handled by the Hono app (none when the app is called directly, as in tests). */
export function bindingsOf(env: unknown): Bindings {
  return (env && typeof env === 'object' ? env : {}) as Bindings
}
