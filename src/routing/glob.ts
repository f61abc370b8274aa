/**
 * Stream globs: `ZG6NWV/*` (any name of one account), `*\/lobby-?`, `**` (anything, slashes included).
 * Matching is case-sensitive: stream names are.
 * @module
 */

export function globToRegExp(glob: string): RegExp {
  let source = ''
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i]!
    if (char === '*' && glob[i + 1] === '*') {
      source += '.*'
      i++
    } else if (char === '*') source += '[^/]*'
    else if (char === '?') source += '[^/]'
    else source += char.replace(/[.+^${}()|[\]\\/]/g, '\\$&')
  }
  return new RegExp(`^${source}$`)
}
