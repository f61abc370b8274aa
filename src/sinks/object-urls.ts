/**
 * A stored object's public URL, for the cloud sinks' `urlFor` with `image.publicUrl`.
 * @module
 */

/**
 * The key as a URL path under `base`. Keys hold `%` escapes of values (template/escape.ts), which the URL must
 * carry as `%25`, or the store would look up the decoded name; the characters keys mostly hold stay as they are.
 */
export function publicUrl(base: string, key: string): string {
  return `${base}/${key.replace(/[^A-Za-z0-9._~@=/-]+/g, encodeURIComponent)}`
}
