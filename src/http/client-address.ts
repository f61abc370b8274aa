/**
 * The address a request came from, for per-client limits. Runtimes hand the peer address to their adapter, not to a
 * fetch handler, so each adapter passes it on in the request's bindings (`Bindings.clientAddress`). Behind a reverse
 * proxy every request comes from the proxy: with `trustProxy`, the last X-Forwarded-For hop (the one the proxy
 * itself appended) is the client. Never trust that header without a proxy that sets it: anyone could send any address.
 * @module
 */

/**
 * A key for the client of `request`. IPv6 clients are keyed by their /64, since one host is commonly given a
 * whole /64 and could otherwise change address at every attempt.
 */
export function clientAddress(request: Request, trustProxy: boolean, peer: string | undefined): string {
  const forwarded = trustProxy
    ? request.headers
        .get('x-forwarded-for')
        ?.split(',')
        .map((hop) => hop.trim())
        .filter(Boolean)
        .at(-1)
    : undefined
  const address = forwarded ?? peer
  return address ? addressKey(address) : 'unknown'
}

export function addressKey(address: string): string {
  const plain = address
    .replace(/^\[|\]$/g, '')
    .replace(/%.*$/, '')
    .toLowerCase()
  const mapped = /^::ffff:(\d{1,3}(\.\d{1,3}){3})$/.exec(plain)
  if (mapped) return mapped[1]!
  if (!plain.includes(':')) return plain
  const [head = '', tail] = plain.split('::')
  const left = head ? head.split(':') : []
  const right = tail ? tail.split(':') : []
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
  return `${groups
    .slice(0, 4)
    .map((group) => (parseInt(group, 16) || 0).toString(16))
    .join(':')}::/64`
}
