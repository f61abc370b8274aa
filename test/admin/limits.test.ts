/**
 * The admin side's in-memory tables stay bounded whatever clients send, and client addresses are keyed so one
 * host cannot pose as many.
 */
import { describe, expect, it } from 'vitest'
import { createFailureLimit, type FailureLimit } from '../../src/admin/rate-limit.ts'
import { createSessions } from '../../src/admin/sessions.ts'
import { memorySessionStore } from '../../src/admin/memory-session-store.ts'
import { addressKey, clientAddress } from '../../src/http/client-address.ts'

describe('failure limit', () => {
  const fail = (limit: FailureLimit, client: string) => expect('succeeded' in limit.attempt(client)).toBe(true)
  const waitOf = (limit: FailureLimit, client: string) => {
    const attempt = limit.attempt(client)
    return 'retryAfter' in attempt ? attempt.retryAfter : undefined
  }

  it('blocks a client after its failures in the window, until the window ends', () => {
    let clock = 0
    const limit = createFailureLimit({ maxFailures: 3, windowMs: 60_000, now: () => clock })
    for (let i = 0; i < 3; i++) fail(limit, 'a')
    clock = 20_000
    expect(waitOf(limit, 'a')).toBe(40)
    fail(limit, 'b')
    clock = 60_000
    fail(limit, 'a')
  })

  it('counts an attempt when it starts, so concurrent ones cannot pass the limit; a success gives it back', () => {
    const limit = createFailureLimit({ maxFailures: 3 })
    const pending = Array.from({ length: 5 }, () => limit.attempt('a')) // none checked yet
    expect(pending.filter((attempt) => 'succeeded' in attempt)).toHaveLength(3)
    expect(pending.filter((attempt) => 'retryAfter' in attempt)).toHaveLength(2)
    const first = pending[0] as { succeeded(): void }
    first.succeeded()
    first.succeeded() // given back once, however often it is called
    fail(limit, 'a')
    expect(waitOf(limit, 'a')).toBeGreaterThan(0)
  })

  it('tracks at most maxClients addresses, however many fail', () => {
    const limit = createFailureLimit({ maxClients: 100 })
    for (let i = 0; i < 10_000; i++) limit.attempt(`198.51.${i >> 8}.${i & 255}`)
    expect(limit.size).toBe(100)
    for (let i = 0; i < 20; i++) limit.attempt('203.0.113.1')
    expect(waitOf(limit, '203.0.113.1')).toBeGreaterThan(0) // the newest client is still counted
  })
})

describe('sessions', () => {
  it('keeps at most maxSessions in memory, ending the least recently used', async () => {
    const store = memorySessionStore({ maxSessions: 5 })
    const sessions = createSessions(store)
    const ids: string[] = []
    for (let i = 0; i < 20; i++) ids.push(await sessions.create())
    expect(new Set(ids).size).toBe(20)
    expect(store.sessions).toBe(5)
    expect(await sessions.use(ids[0]!)).toBe(false)
    expect(await sessions.use(ids[19]!)).toBe(true)
  })
})

describe('client address', () => {
  it('keys IPv6 by /64 and IPv4-mapped addresses as IPv4', () => {
    expect(addressKey('2001:db8:1:2::5')).toBe('2001:db8:1:2::/64')
    expect(addressKey('2001:0db8:0001:0002:ffff:0:0:1')).toBe('2001:db8:1:2::/64')
    expect(addressKey('[::1]')).toBe('0:0:0:0::/64')
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64')
    expect(addressKey('::ffff:203.0.113.9')).toBe('203.0.113.9')
    expect(addressKey('203.0.113.9')).toBe('203.0.113.9')
  })

  it('trusts X-Forwarded-For only when told to, and then only its last hop', () => {
    const request = new Request('http://h/', { headers: { 'x-forwarded-for': '1.1.1.1, 10.0.0.7' } })
    expect(clientAddress(request, false, '127.0.0.1')).toBe('127.0.0.1')
    expect(clientAddress(request, true, '127.0.0.1')).toBe('10.0.0.7')
    expect(clientAddress(new Request('http://h/'), false, undefined)).toBe('unknown')
  })
})
