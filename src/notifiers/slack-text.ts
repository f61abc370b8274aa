/**
 * Text we did not write (stream names, ids, media types from signed hooks) made safe to put in Slack mrkdwn. The
 * text objects themselves are sent `verbatim`, so Slack does not turn a bare URL, `#channel` or `@here` in a value
 * into a link or mention either.
 * @module
 */

const LOOKALIKE: Record<string, string> = { '*': '\u2217', _: '\u02CD', '~': '\u223C', '`': '\u02CB' }
const SOFT_HYPHEN = '\u00AD'
/** Longer values are cut: a section's text may hold 3,000 characters and a field 2,000. */
const MAX_VALUE_CHARS = 200

const alnum = (char: string | undefined) => char !== undefined && /[A-Za-z0-9]/.test(char)

/**
 * A value as mrkdwn that shows exactly as plain text:
 * - `&`, `<` and `>` become `&amp;` `&lt;` `&gt;`, as Slack's formatting reference says: `<` starts every mention,
 *   channel ping (`<!channel>`) and link (`<url|label>`), so an escaped value can never make one.
 * - Slack has no escape for `*` `_` `~` and `` ` ``, and a zero-width space around them makes Slack format *more*
 *   eagerly, not less. So each is replaced by a lookalike that is no control character at all (the replacements
 *   jsx-slack uses for the same problem). Slack formats only at word boundaries, so an `_` between two letters or
 *   digits (`sample_stream`) cannot open or close italics and is kept as typed.
 * - A `>` opening a line quotes it; a soft hyphen (invisible) in front stops that.
 * - Line breaks become spaces (a value stays on its line) and a value is cut to a length Slack accepts.
 */
export function escapeMrkdwn(value: string): string {
  let text = value.replace(/[\r\n\t\v\f\u2028\u2029]+/g, ' ')
  if (text.length > MAX_VALUE_CHARS) text = `${text.slice(0, MAX_VALUE_CHARS - 1)}\u2026`
  const chars = [...text]
  const out = chars.map((char, i) => {
    if (char === '&') return '&amp;'
    if (char === '<') return '&lt;'
    if (char === '>') return i === 0 ? `${SOFT_HYPHEN}&gt;` : '&gt;'
    if (char === '_' && alnum(chars[i - 1]) && alnum(chars[i + 1])) return char
    return LOOKALIKE[char] ?? char
  })
  return out.join('')
}

/**
 * The operator's template without its formatting marks, for the fallback `text` (notifications show it raw).
 * Emoji names (`:red_circle:`) keep their underscores.
 */
export function stripFormatting(template: string): string {
  return template.replace(/(:[a-z0-9_+'-]+:)|[*_~`]/gi, (_, emoji: string | undefined) => emoji ?? '')
}
