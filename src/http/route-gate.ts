/**
 * The app's routes for a server that resolves dot segments (`..`, `%2e%2e`, backslashes) in the Request's URL but
 * matches its own routes on the target as sent (Bun). Each app route becomes one of the server's routes, whose
 * parameters as sent rebuild the path the app checks for dot segments (plain-path.ts); a target that names no
 * route never reaches the app, so it is answered here as the app would.
 * @module
 */
import { HttpError } from './errors.ts'
import { assertPlainPath, badPath } from './plain-path.ts'

/** One of the app's route patterns (`/api/streams/:stream/thumbnail`) for the server's router. */
interface GateRoute {
  path: string
  /** The path as sent, from the route's parameters as the server matched them (percent-decoded). */
  rawPath(params: Record<string, string>): string
}

interface RouteGate {
  routes: GateRoute[]
  /**
   * The answer to a request no route matched, by its resolved URL: 400 when that URL still has encoded dot
   * segments, or names a route (the target reached it through dot segments); 404 otherwise, as the app answers.
   */
  unrouted(url: string): Response
}

/** `appRoutes`: Hono's `app.routes`, middleware included. */
export function routeGate(appRoutes: readonly { path: string }[]): RouteGate {
  const routes: GateRoute[] = []
  const shapes: RegExp[] = []
  const seen = new Set<string>()
  for (const { path } of appRoutes) {
    if (path.includes('*') || seen.has(path)) continue // `/api/*` is middleware: its routes are listed on their own
    seen.add(path)
    routes.push({
      path,
      rawPath: (params) => path.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(params[name] ?? '')),
    })
    shapes.push(new RegExp(`^${path.replace(/[.]/g, '\\.').replace(/:\w+/g, '[^/]+')}$`))
  }
  const unrouted = (url: string) => {
    try {
      const resolved = new URL(url).pathname
      assertPlainPath(resolved)
      throw shapes.some((shape) => shape.test(resolved)) ? badPath() : new HttpError(404, 'not_found', 'no such path')
    } catch (error) {
      return (error as HttpError).toResponse()
    }
  }
  return { routes, unrouted }
}
