/**
 * Where the gateway listens, and whether it may: the development secret is published (docs/protocol.md §2.4, and
 * this repository), so anyone can sign hooks with it. With it, hookcast binds loopback unless told otherwise, and
 * refuses a non-loopback address unless `server.allowDevSecret` says the risk is taken knowingly.
 * @module
 */
import type { Config } from './config-schema.ts'
import type { Env } from './interpolate.ts'
import { DEV_SECRET } from './embedded.ts'
import { decodeBase64 } from '../util/encoding.ts'

interface Listen {
  host: string
  /** Sources that accept the development secret. */
  devSecretSources: string[]
  /** Why the gateway must not start on this address; undefined when it may. */
  refusal?: string
}

export function listenAddress(config: Config, env: Env): Listen {
  const devSecretSources = Object.entries(config.sources)
    .filter(([, source]) => source.secrets.some(isDevSecret))
    .map(([name]) => name)
  const dev = devSecretSources.length > 0
  const host = env.HOST || config.server.host || (dev ? '127.0.0.1' : '0.0.0.0')
  if (!dev || isLoopback(host) || config.server.allowDevSecret) return { host, devSecretSources }
  return {
    host,
    devSecretSources,
    refusal:
      `refusing to listen on ${host} with the published development secret ` +
      `(source ${devSecretSources.join(', ')}): anyone could sign hooks. ` +
      "Set MILLICAST_WEBHOOK_SECRET (the webhook's own secret), or listen on 127.0.0.1 (HOST or server.host), " +
      'or set server.allowDevSecret: true to accept the risk',
  }
}

/** Compared decoded, so another spelling of the same key (no padding, spaces) is still recognised. */
export function isDevSecret(secret: string): boolean {
  const bytes = decodeBase64(secret.trim())
  const dev = decodeBase64(DEV_SECRET)!
  return bytes !== undefined && bytes.byteLength === dev.byteLength && bytes.every((byte, i) => byte === dev[i])
}

/** 127.0.0.0/8, ::1 and localhost: addresses only this machine reaches. */
export function isLoopback(host: string): boolean {
  const name = host.toLowerCase().replace(/^\[(.*)\]$/, '$1')
  return (
    name === 'localhost' ||
    name === '::1' ||
    /^127(\.\d{1,3}){3}$/.test(name) ||
    /^::ffff:127(\.\d{1,3}){3}$/.test(name)
  )
}
