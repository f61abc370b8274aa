/**
 * Checks between parts of the config (route targets exist, names are unique, paths differ). They run on the raw
 * document, beside the schema, so they are reported even when other parts of the file are invalid too.
 * @module
 */

interface Problem {
  path: Array<string | number>
  message: string
}

/**
 * Paths hookcast answers itself (page, its API and sign-in, thumbnail links, health, metrics). A source on one of
 * them, or under one, or on `/`, would shadow it.
 */
const OWN_PATHS: Record<string, string> = {
  '/api': 'the admin API',
  '/thumbnails': 'signed thumbnail links',
  '/healthz': 'health',
  '/readyz': 'readiness',
  '/metrics': 'metrics',
  '/login': "the page's sign-in",
  '/logout': "the page's sign-out",
}

/** Sink types that can make a URL a third party (Slack) can fetch. */
const URL_SINKS = ['s3', 'gcs']

const keysOf = (value: unknown): string[] =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? Object.keys(value) : []
const itemsOf = (value: unknown): unknown[] => (Array.isArray(value) ? value : [])
const field = (value: unknown, key: string): unknown =>
  value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined

export function referenceProblems(raw: unknown): Problem[] {
  const problems: Problem[] = []
  const sinks = keysOf(field(raw, 'sinks'))
  const notifiers = keysOf(field(raw, 'notifiers'))
  const destinations = new Set([...sinks, ...notifiers])
  for (const name of notifiers) {
    if (sinks.includes(name))
      problems.push({
        path: ['notifiers', name],
        message: `"${name}" is also a sink; destination names must be unique`,
      })
  }
  for (const [r, route] of itemsOf(field(raw, 'routes')).entries()) {
    for (const [t, name] of itemsOf(field(route, 'to')).entries()) {
      if (typeof name === 'string' && !destinations.has(name)) {
        problems.push({ path: ['routes', r, 'to', t], message: `unknown sink or notifier "${name}"` })
      }
    }
  }
  for (const name of keysOf(field(field(raw, 'delivery'), 'destinations'))) {
    if (!destinations.has(name))
      problems.push({ path: ['delivery', 'destinations', name], message: `unknown sink or notifier "${name}"` })
  }
  for (const name of notifiers) {
    const image = field(field(field(raw, 'notifiers'), name), 'image')
    const sink = field(image, 'sink')
    if (typeof sink !== 'string') continue
    const type = field(field(field(raw, 'sinks'), sink), 'type')
    if (!sinks.includes(sink))
      problems.push({ path: ['notifiers', name, 'image', 'sink'], message: `unknown sink "${sink}"` })
    else if (!URL_SINKS.includes(String(type))) {
      problems.push({
        path: ['notifiers', name, 'image', 'sink'],
        message:
          `sink "${sink}" (${String(type)}) cannot make public image URLs; ` +
          'use an s3 or gcs sink, or image: { publicUrl }',
      })
    }
  }
  const paths = new Map<unknown, string>()
  const sources = field(raw, 'sources')
  for (const name of keysOf(sources)) {
    const path = field(field(sources, name), 'path')
    const other = paths.get(path)
    if (typeof path === 'string' && other)
      problems.push({ path: ['sources', name, 'path'], message: `same path as source "${other}"` })
    const own = typeof path === 'string' ? ownPathOf(path) : undefined
    if (own)
      problems.push({
        path: ['sources', name, 'path'],
        message: `${path} is hookcast's own path (${own}); pick another, e.g. /hooks/${name}`,
      })
    paths.set(path, name)
  }
  return problems
}

/** What of hookcast's own a source path would shadow, if anything. */
function ownPathOf(path: string): string | undefined {
  if (path.replace(/\/+$/, '') === '') return 'the live streams page'
  const own = Object.keys(OWN_PATHS).find((prefix) => path === prefix || path.startsWith(`${prefix}/`))
  return own ? OWN_PATHS[own] : undefined
}
