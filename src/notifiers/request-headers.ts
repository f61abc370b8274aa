/**
 * A notifier request's headers, built before fetch would build them. A value no header can carry (a line break, a
 * control character) makes the runtime's Headers throw an error that quotes the value (Node: `Headers.append:
 * "<value>" is an invalid header value`; Deno the same), and that text would reach the log, the dead letter and
 * /api/events, token and all. The config refuses such values at start; this is the second line: the error names the
 * header, never its value, and is permanent, since retrying cannot fix it.
 * @module
 */
import { DeliveryError } from '../destinations/types.ts'

export function requestHeaders(headers: Record<string, string>, what: string): Headers {
  const built = new Headers()
  for (const [name, value] of Object.entries(headers)) {
    try {
      built.append(name, value)
    } catch {
      const problem = 'value cannot be sent (a line break or another control character?); fix it in the config'
      throw new DeliveryError(`${what}: the ${JSON.stringify(name)} header's ${problem}`, { permanent: true })
    }
  }
  return built
}
