/**
 * A request path must name its route plainly. URL parsers (so Node's and Bun's servers, and Request objects) resolve
 * `.` and `..` segments, their percent-encoded spellings and backslashes before routing:
 * `/hooks/millicast/%2e%2e/%2e%2e/metrics` names a hook path to a proxy that exposes only `/hooks/`, and would reach
 * `/metrics` here. So the path as the client sent it (`Bindings.rawPath`) is checked before routing.
 * @module
 */
import { HttpError } from './errors.ts'

/**
 * Throws a 400 (`bad_path`) for a path (or request target, or URL) that, with `%2e`, `%2f` and `%5c` decoded, holds
 * a backslash or a part between slashes that is `.` or `..`. hookcast's own links never do: their one encoded
 * character is the stream id's slash (`%2F`), and no stream id has a `.` or `..` part.
 */
export function assertPlainPath(target: string): void {
  const path = pathOf(target)
  // Most paths have neither a dot, nor a backslash, nor an escape: nothing to look at.
  if (!/[.%\\]/.test(path)) return
  const decoded = path.replace(/%2e/gi, '.').replace(/%2f/gi, '/').replace(/%5c/gi, '\\')
  if (decoded.includes('\\') || decoded.split('/').some((part) => part === '.' || part === '..')) throw badPath()
}

export function badPath(): HttpError {
  return new HttpError(400, 'bad_path', 'the path has a . or .. segment or a backslash (plain or percent-encoded)')
}

/** The path of a request target or URL: without scheme and host, query or fragment. */
function pathOf(target: string): string {
  let start = 0
  if (!target.startsWith('/')) {
    const scheme = target.indexOf('://')
    start = scheme < 0 ? 0 : target.indexOf('/', scheme + 3)
    if (start < 0) return ''
  }
  const end = target.slice(start).search(/[?#]/)
  return end < 0 ? target.slice(start) : target.slice(start, start + end)
}
