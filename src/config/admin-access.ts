/**
 * How a server opens the live streams page and its API: with `admin.token`; without one, with one-time sign-in
 * links printed on stdout, but only on loopback unless `admin.signInLinks: true` says so. Beyond loopback stdout
 * is often a log service or `docker logs`, and it always holds one unused link, so an unset variable must not open
 * a public gateway's page to whoever reads it. A serverless function never prints links.
 * @module
 */
import type { Config } from './config-schema.ts'
import { isLoopback } from './listen.ts'

interface AdminAccess {
  mode: 'token' | 'links' | 'off'
  /** Why, as `hookcast check` and the log say it. */
  why: string
}

export function adminAccess(admin: Config['admin'], host: string): AdminAccess {
  if (!admin.enabled) return { mode: 'off', why: 'admin.enabled: false' }
  if (admin.token) return { mode: 'token', why: 'admin.token' }
  if (admin.signInLinks === false) return { mode: 'off', why: 'no admin.token, and admin.signInLinks: false' }
  if (admin.signInLinks) return { mode: 'links', why: 'no admin.token; admin.signInLinks: true' }
  if (isLoopback(host)) return { mode: 'links', why: `no admin.token; ${host} is loopback` }
  return {
    mode: 'off',
    why:
      `no admin.token, and ${host} is not loopback: set admin.token, or admin.signInLinks: true for one-time ` +
      'sign-in links printed on stdout (whoever reads that output can sign in)',
  }
}
