/**
 * Who may use the operator side: the token as a bearer header (scripts), or a session the login form started
 * (the page). Without `admin.token`, a one-time sign-in link's token only starts a session. The cookie holds a random
 * session id kept server-side, never the token or anything derived from it, so signing out revokes it. Wrong tokens
 * count against the client's address, each attempt before its token is checked, so concurrent guesses cannot outrun
 * the limit.
 * @module
 */
import { getCookie } from 'hono/cookie'
import type { Context } from 'hono'
import { timingSafeEqual } from '../verify/constant-time.ts'
import { HttpError } from '../http/errors.ts'
import { clientAddress } from '../http/client-address.ts'
import { bindingsOf } from '../http/bindings.ts'
import type { Sessions } from './sessions.ts'
import type { FailureLimit } from './rate-limit.ts'

export const COOKIE = 'hookcast_admin'

/** Compares candidates with `token` in constant time; both are hashed first, so not even the length shows. */
export async function tokenMatcher(token: string): Promise<(candidate: string) => Promise<boolean>> {
  const digest = async (text: string) =>
    new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)))
  const expected = await digest(token)
  return async (candidate) => timingSafeEqual(await digest(candidate), expected)
}

export interface Limits {
  failures: FailureLimit
  /** Take the client address from X-Forwarded-For (see client-address.ts). */
  trustProxy: boolean
}

export interface BearerCheck {
  /** True for the right bearer token. A wrong one counts as a failure; a client past the limit gets 429. */
  allows(c: Context): Promise<boolean>
}

type SignIn = { session: string } | { wrong: true; used?: boolean } | { retryAfter: number }

/** What the operator side accepts. */
interface AdminCredentials {
  /** Checks an `Authorization: Bearer` token. Absent (a sign-in link, no admin.token): every bearer token is wrong. */
  bearer?: (candidate: string) => Promise<boolean>
  /** Checks a token from the sign-in form; `used` is a one-time link's token that signed in before. */
  signIn: (candidate: string) => Promise<'ok' | 'used' | 'wrong'>
}

/** Credentials of a configured `admin.token`: the same token as bearer and in the form, as often as wanted. */
export function tokenCredentials(match: (candidate: string) => Promise<boolean>): AdminCredentials {
  return { bearer: match, signIn: async (candidate) => ((await match(candidate)) ? 'ok' : 'wrong') }
}

export interface AdminAuth extends BearerCheck {
  /** As BearerCheck, or (without an Authorization header) a live session cookie. */
  allows(c: Context): Promise<boolean>
  /** A token typed into the login form: a new session when it is right. */
  signIn(c: Context, token: string): Promise<SignIn>
  /** Ends the session of the request's cookie, if any. */
  signOut(c: Context): void
}

export function createBearerCheck(match: (candidate: string) => Promise<boolean>, limits: Limits): BearerCheck {
  return { allows: async (c) => (await bearer(c, match, limits)) === true }
}

export function createAdminAuth(credentials: AdminCredentials, sessions: Sessions, limits: Limits): AdminAuth {
  const match = credentials.bearer ?? (async () => false)
  return {
    async allows(c) {
      const byToken = await bearer(c, match, limits)
      if (byToken !== undefined) return byToken
      const id = getCookie(c, COOKIE)
      return id !== undefined && sessions.use(id)
    },
    async signIn(c, token) {
      const attempt = limits.failures.attempt(clientOf(c, limits))
      if ('retryAfter' in attempt) return attempt
      const verdict = await credentials.signIn(token)
      if (verdict !== 'ok') return verdict === 'used' ? { wrong: true, used: true } : { wrong: true }
      attempt.succeeded()
      return { session: sessions.create() }
    },
    signOut(c) {
      const id = getCookie(c, COOKIE)
      if (id !== undefined) sessions.end(id)
    },
  }
}

/** The bearer token's verdict, or undefined when the request has none. */
async function bearer(
  c: Context,
  match: (candidate: string) => Promise<boolean>,
  limits: Limits,
): Promise<boolean | undefined> {
  const header = c.req.header('authorization')
  if (!header?.startsWith('Bearer ')) return undefined
  const attempt = limits.failures.attempt(clientOf(c, limits))
  if ('retryAfter' in attempt) throw tooManyAttempts(attempt.retryAfter)
  if (!(await match(header.slice(7).trim()))) return false
  attempt.succeeded()
  return true
}

const clientOf = (c: Context, limits: Limits) =>
  clientAddress(c.req.raw, limits.trustProxy, bindingsOf(c.env).clientAddress)

function tooManyAttempts(seconds: number): HttpError {
  return new HttpError(429, 'too_many_attempts', `too many wrong tokens from this address; try again in ${seconds} s`, {
    'retry-after': String(seconds),
  })
}
