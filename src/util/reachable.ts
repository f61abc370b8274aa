/**
 * Can we open a connection to a URL's host? For `hookcast check`, which must not send anything.
 * @module
 */
import { connect } from 'node:net'

/** Undefined when a TCP connection to the URL's host and port opens within `timeoutMs`, else the problem. */
export function reachable(url: string, timeoutMs = 3_000): Promise<string | undefined> {
  const { hostname, port, protocol } = new URL(url)
  const target = { host: hostname.replace(/^\[|\]$/g, ''), port: Number(port || (protocol === 'https:' ? 443 : 80)) }
  return new Promise((resolve) => {
    const socket = connect(target)
    const done = (problem?: string) => {
      socket.destroy()
      resolve(problem)
    }
    socket.setTimeout(timeoutMs, () => done(`${target.host}:${target.port} did not answer within ${timeoutMs} ms`))
    socket.once('connect', () => done())
    socket.once('error', (error) => done(`cannot connect to ${target.host}:${target.port}: ${error.message}`))
  })
}
