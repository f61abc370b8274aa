/**
 * A signed thumbnail link with its signature changed: the first hex digit of `sig` replaced by another. (Setting
 * the first two digits to `00` left the link valid whenever its signature began with `00`: one run in 256.)
 */
export function forgedLink(link: string): string {
  const forged = link.replace(/sig=([0-9a-f])/, (_, digit: string) => `sig=${digit === '0' ? '1' : '0'}`)
  if (forged === link) throw new Error(`no sig= in ${link}`)
  return forged
}
