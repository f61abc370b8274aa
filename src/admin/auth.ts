/**
 * The operator token: as a bearer header (scripts) or, for the page, a cookie set once by the login form. The
 * cookie holds a hash of the token, not the token, and is HttpOnly and SameSite=Strict.
 * @module
 */
import { getCookie } from 'hono/cookie'
import type { Context } from 'hono'
import { timingSafeEqual } from '../verify/constant-time.ts'
import { toHex } from '../verify/verifier.ts'

export const COOKIE = 'hookcast_admin'

export interface TokenCheck {
  /** True when the request carries the token (bearer) or the login cookie. */
  allows(c: Context): Promise<boolean>
  /** The cookie value for a correct token typed into the login form; undefined for a wrong one. */
  login(token: string): Promise<string | undefined>
}

export async function createTokenCheck(token: string): Promise<TokenCheck> {
  const hash = async (text: string) => toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`hookcast-admin:${text}`))))
  const cookieValue = await hash(token)
  const same = (a: string, b: string) => timingSafeEqual(new TextEncoder().encode(a), new TextEncoder().encode(b))
  return {
    async allows(c) {
      const header = c.req.header('authorization')
      if (header?.startsWith('Bearer ')) return same(await hash(header.slice(7).trim()), cookieValue)
      const cookie = getCookie(c, COOKIE)
      return cookie !== undefined && same(cookie, cookieValue)
    },
    async login(candidate) {
      return same(await hash(candidate), cookieValue) ? cookieValue : undefined
    },
  }
}
