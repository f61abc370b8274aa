/**
 * The published development secret never serves on an address others can reach unless the operator says so.
 */
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/load.ts'
import { EMBEDDED_CONFIG } from '../../src/config/embedded.ts'
import { isLoopback, listenAddress } from '../../src/config/listen.ts'
import { SECRET } from '../support/hooks.ts'

const REAL = btoa('a-real-secret-of-32-bytes-0123456')
const config = (secret: string, server = '') =>
  parseConfig(
    `
server: { port: 8080${server} }
sources:
  millicast: { path: /hooks/millicast, secrets: ["${secret}"] }
`,
    {},
  )

describe('listen address', () => {
  it('binds loopback by default while the development secret is in use, and 0.0.0.0 otherwise', () => {
    expect(listenAddress(config(SECRET), {})).toEqual({ host: '127.0.0.1', devSecretSources: ['millicast'] })
    expect(listenAddress(parseConfig(EMBEDDED_CONFIG, {}), {})).toEqual({
      host: '127.0.0.1',
      devSecretSources: ['millicast'],
    })
    expect(listenAddress(config(REAL), {})).toEqual({ host: '0.0.0.0', devSecretSources: [] })
    expect(listenAddress(parseConfig(EMBEDDED_CONFIG, { MILLICAST_WEBHOOK_SECRET: REAL }), {}).host).toBe('0.0.0.0')
  })

  it('refuses the development secret on a non-loopback address, from the config or HOST', () => {
    const refused = listenAddress(config(SECRET, ', host: 0.0.0.0'), {})
    expect(refused.refusal).toMatch(
      /^refusing to listen on 0\.0\.0\.0 with the published development secret \(source millicast\)/,
    )
    expect(refused.refusal).toContain('MILLICAST_WEBHOOK_SECRET')
    expect(listenAddress(config(SECRET), { HOST: '::' }).refusal).toBeDefined()
    expect(listenAddress(config(SECRET), { HOST: '10.1.2.3' }).refusal).toBeDefined()
    // The same key written another way (no padding) is still the development secret.
    expect(listenAddress(config(SECRET.replace(/=+$/, '')), { HOST: '0.0.0.0' }).refusal).toBeDefined()
  })

  it('serves the development secret on loopback, or anywhere when allowDevSecret says so', () => {
    for (const HOST of ['127.0.0.1', 'localhost', '::1', '[::1]', '127.0.0.2'])
      expect(listenAddress(config(SECRET), { HOST }).refusal).toBeUndefined()
    expect(listenAddress(config(SECRET, ', host: 0.0.0.0, allowDevSecret: true'), {})).toEqual({
      host: '0.0.0.0',
      devSecretSources: ['millicast'],
    })
    expect(listenAddress(config(REAL, ', host: 0.0.0.0'), {}).refusal).toBeUndefined()
  })

  it('knows loopback addresses', () => {
    expect(['127.0.0.1', '127.255.0.9', 'LOCALHOST', '::1', '[::1]', '::ffff:127.0.0.1'].every(isLoopback)).toBe(true)
    expect(
      ['0.0.0.0', '::', '192.168.1.2', 'localhost.evil.example', '1270.0.0.1', 'example.com'].some(isLoopback),
    ).toBe(false)
  })
})
