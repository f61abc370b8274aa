/**
 * Where `hookcast send` posts without `--url`: the gateway `hookcast serve` would start in this directory. The
 * config is read loosely (its port, host and first source's path only), so a config that does not validate yet,
 * say for a missing secret variable, still tells where the gateway listens.
 * @module
 */
import { readFile } from 'node:fs/promises'
import { parse } from 'yaml'
import { resolveConfigPath } from '../config/load.ts'
import { EMBEDDED_CONFIG } from '../config/embedded.ts'
import { interpolate, type Env } from '../config/interpolate.ts'

const DEFAULT_PORT = 8080
const DEFAULT_PATH = '/hooks/millicast'

/** `http://<host>:<port><path>`: PORT, else server.port, else 8080; HOST, else server.host, loopback for any. */
export async function gatewayHookUrl(env: Env): Promise<string> {
  const config = await looseConfig(env)
  const server = record(config.server)
  const port = env.PORT || portOf(server.port) || String(DEFAULT_PORT)
  const host = connectable(env.HOST || (typeof server.host === 'string' ? server.host : '') || '127.0.0.1')
  const source = Object.values(record(config.sources)).map(record)[0]
  const path = typeof source?.path === 'string' && source.path.startsWith('/') ? source.path : DEFAULT_PATH
  return `http://${host}:${port}${path}`
}

/** The config `hookcast serve` would load here, as plain data; empty when it cannot be read. */
async function looseConfig(env: Env): Promise<Record<string, unknown>> {
  const path = resolveConfigPath([], env)
  try {
    const text = path === undefined ? EMBEDDED_CONFIG : await readFile(path, 'utf8')
    return record(interpolate(parse(text), env))
  } catch {
    return {}
  }
}

function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {}
}

function portOf(value: unknown): string | undefined {
  const port = Number(value)
  return Number.isInteger(port) && port > 0 && port < 65536 ? String(port) : undefined
}

/** A wildcard bind address is reached on loopback; an IPv6 address needs brackets in a URL. */
function connectable(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1'
  if (host === '::' || host === '[::]') return '[::1]'
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
}
