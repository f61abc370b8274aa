/**
 * hookcast's own signed thumbnail links, for Slack's incoming webhooks (which need a public image URL) when no
 * bucket can sign one: `<publicUrl>/thumbnails/<stream>/<event id>.jpg?exp=<s>&sig=<hex>`. The signature covers
 * the path and the expiry, so a link cannot be changed to reach another stream or live longer.
 * @module
 */
import { timingSafeEqual } from '../verify/constant-time.ts'
import { toHex } from '../util/encoding.ts'
import type { SigningKeyStore } from './signing-key.ts'
import type { ThumbnailRef } from './stream-types.ts'

export const THUMBNAIL_ROUTE = '/thumbnails'

export interface ThumbnailLinks {
  url(publicUrl: string, ref: ThumbnailRef, expiryMs: number): Promise<string>
  /** True when `exp` and `sig` are a valid, unexpired signature of `path`. */
  check(path: string, exp: string | undefined, sig: string | undefined): Promise<boolean>
  /** Whole seconds until a link with this `exp` expires (0 once it has). */
  secondsLeft(exp: string): number
}

/** Links signed with the key `keys` holds (shared by every instance), so they survive restarts. */
export async function createThumbnailLinks(
  keys: SigningKeyStore,
  now: () => number = Date.now,
): Promise<ThumbnailLinks> {
  const secret = await keys.getOrCreate()
  const key = await crypto.subtle.importKey(
    'raw',
    secret as Uint8Array<ArrayBuffer>,
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  )
  const mac = async (text: string) =>
    new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(text)))

  return {
    async url(publicUrl, ref, expiryMs) {
      const path = `${THUMBNAIL_ROUTE}/${encodeURIComponent(ref.event.streamId ?? '')}/${ref.eventId}.jpg`
      const exp = String(Math.floor((now() + expiryMs) / 1000))
      return `${publicUrl.replace(/\/+$/, '')}${path}?exp=${exp}&sig=${toHex(await mac(`${path}?${exp}`))}`
    },
    async check(path, exp, sig) {
      if (!exp || !sig || !/^\d{1,12}$/.test(exp) || !/^[0-9a-f]{64}$/.test(sig)) return false
      if (Number(exp) * 1000 < now()) return false
      const expected = toHex(await mac(`${path}?${exp}`))
      return timingSafeEqual(new TextEncoder().encode(expected), new TextEncoder().encode(sig))
    },
    secondsLeft(exp) {
      return Math.max(0, Math.floor(Number(exp) - now() / 1000))
    },
  }
}
