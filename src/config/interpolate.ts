/**
 * `${VAR}` and `${VAR:-default}` substitution into the string values of parsed YAML. Substituting after parsing
 * (not into the raw text) means a secret containing `:` or `#` can never change the structure of the document.
 * @module
 */

export type Env = Record<string, string | undefined>

/** A variable that is referenced but not set, with the YAML path that needs it. */
export interface MissingVariable {
  name: string
  path: string
}

/**
 * The key that an assignment would turn into an object's prototype. It is never copied: YAML makes it an ordinary
 * key, but assigned to a plain object it would set the object's prototype, whose keys the schema's strict check does
 * not see and whose values it reads; loading refuses it as an unknown key. (`constructor` and the like are assigned
 * as ordinary keys; the schema refuses them.)
 */
export const PROTO_KEY = '__proto__'

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\$/g

/** Returns a copy of `value` with every `${VAR}` replaced; collects the unset ones instead of failing on the first. */
export function interpolate(value: unknown, env: Env, missing: MissingVariable[] = [], path = ''): unknown {
  if (typeof value === 'string') {
    return value.replace(REFERENCE, (whole, name: string | undefined, fallback: string | undefined) => {
      if (whole === '$$') return '$' // `$$` escapes a literal dollar
      const set = env[name!]
      if (set !== undefined && set !== '') return set
      if (fallback !== undefined) return fallback
      missing.push({ name: name!, path: path || '(root)' })
      return whole
    })
  }
  if (Array.isArray(value)) {
    return value.map((item, index) => interpolate(item, env, missing, `${path}[${index}]`))
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) {
      if (key === PROTO_KEY) continue
      out[key] = interpolate(item, env, missing, path ? `${path}.${key}` : key)
    }
    return out
  }
  return value
}
