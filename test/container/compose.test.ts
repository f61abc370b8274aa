/**
 * compose.yaml and the files it mounts, checked for what running them relies on (no registry is reachable here to
 * pull nats and caddy, so they are not started): both gateways get the shared config, which is valid and names
 * the compose NATS service, the proxy sends to both, NATS takes a full-size hook, and a stop waits out the drain.
 */
import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { parseConfig } from '../../src/config/load.ts'
import { parseDuration } from '../../src/config/units.ts'
import { SECRET } from '../support/hooks.ts'
import { ROOT } from '../support/runtimes.ts'

interface Service {
  image?: string
  build?: string
  environment?: Record<string, string>
  volumes?: string[]
  stop_grace_period?: string
}
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8')
const compose = parse(read('compose.yaml'), { merge: true }) as { services: Record<string, Service> }
const gateways = Object.entries(compose.services).filter(([, service]) => service.image === 'hookcast')
const config = parseConfig(read('deploy/compose/hookcast.yaml'), { MILLICAST_WEBHOOK_SECRET: SECRET })

describe('compose.yaml', () => {
  it('runs two gateways of the image built here, each with the shared config and the shared /data volume', () => {
    expect(gateways.map(([name]) => name)).toEqual(['hookcast-1', 'hookcast-2'])
    for (const [, service] of gateways) {
      expect(service.build).toBe('.')
      expect(service.volumes).toContain('./deploy/compose/hookcast.yaml:/app/config.yaml:ro')
      expect(service.volumes).toContain('data:/data')
      expect(service.environment?.MILLICAST_WEBHOOK_SECRET).toMatch(/^\$\{MILLICAST_WEBHOOK_SECRET:\?/)
      // docker stop waits this long before killing: more than the gateway's drain.
      expect(parseDuration(service.stop_grace_period!)).toBeGreaterThan(config.server.shutdownGrace)
    }
  })

  it("the gateways' config is valid, queues on the compose NATS service and writes the /data volume", () => {
    expect(config.spool).toMatchObject({ type: 'nats', servers: ['nats://nats:4222'], replicas: 1 })
    expect(compose.services.nats?.image).toMatch(/^nats:/)
    expect(config.sinks.disk).toMatchObject({ type: 'fs', dir: './data' }) // /app/data is /data in the image
    expect(config.server.trustProxy).toBe(true)
  })

  it('the proxy sends to both gateways and checks /readyz; NATS takes a full-size hook', () => {
    const caddy = read('deploy/compose/Caddyfile')
    const upstreams = /reverse_proxy ([^{]+)\{/.exec(caddy)![1]!.trim().split(/\s+/)
    expect(upstreams).toEqual(gateways.map(([name]) => `${name}:8080`))
    expect(caddy).toMatch(/health_uri \/readyz/)
    expect(compose.services.proxy?.volumes).toContain('./deploy/compose/Caddyfile:/etc/caddy/Caddyfile:ro')

    const payload = /^max_payload: (\d+)MB$/m.exec(read('deploy/compose/nats.conf'))
    expect(Number(payload![1]) * 1_000_000).toBeGreaterThanOrEqual(config.server.maxBodyBytes + 64 * 1024)
  })
})
