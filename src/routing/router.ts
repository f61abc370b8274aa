/**
 * Routing: a pure function from an event and the configured routes to the destinations it goes to.
 * @module
 */
import type { HookEvent } from '../events/types.ts'
import type { RouteConfig } from '../config/config-schema.ts'
import { globToRegExp } from './glob.ts'

/** Kinds of hookcast's own internal work, for its own destinations only (streams/check-event.ts). */
const INTERNAL_PREFIX = 'hookcast.'

export interface CompiledRoute {
  matches(event: HookEvent): boolean
  to: readonly string[]
}

/**
 * Prepares routes once at start (globs compiled, names lower-cased). hookcast's own `stream` events (live, ended)
 * only match routes that name the `stream` type: a catch-all route stores the platform's hooks, not alerts. Its
 * internal kinds (`hookcast.*`: the stream tracker's delayed checks) match no route at all, even one naming them.
 */
export function compileRoutes(routes: readonly RouteConfig[]): CompiledRoute[] {
  return routes.map(({ when, to }) => {
    const sources = when.source && new Set(when.source)
    // Kinds and events are matched case-insensitively: the platform has changed event-name casing before.
    const types = when.type && new Set(when.type.map((t) => t.toLowerCase()))
    const events = when.event && new Set(when.event.map((e) => e.toLowerCase()))
    const streams = when.stream?.map(globToRegExp)
    return {
      to,
      matches(event) {
        if (event.type.toLowerCase().startsWith(INTERNAL_PREFIX)) return false
        if (sources && !sources.has(event.source)) return false
        if (types ? !types.has(event.type.toLowerCase()) : event.type === 'stream') return false
        if (events && !events.has(event.event.toLowerCase())) return false
        if (streams) {
          const stream = event.streamId ?? event.streamName
          if (stream === undefined || !streams.some((glob) => glob.test(stream))) return false
        }
        return true
      },
    }
  })
}

/** Every destination of every matching route, each once, in config order. */
export function route(event: HookEvent, routes: readonly CompiledRoute[]): string[] {
  const destinations = new Set<string>()
  for (const candidate of routes) {
    if (candidate.matches(event)) for (const name of candidate.to) destinations.add(name)
  }
  return [...destinations]
}
