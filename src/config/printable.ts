/**
 * Tokens and header values from the config: a line break or another control character in one (often from a
 * `${VAR}` set with a stray `\r\n`) would split an HTTP header, and Node's and Deno's fetch refuse such a value with
 * an error that quotes it, secret and all. Refused at start instead, naming the YAML path, never the value. The
 * schema runs after `${VAR}` interpolation, so this sees the values as they will be sent.
 * @module
 */
import { z } from 'zod'

/** C0 controls (NUL, tab, CR, LF...), DEL and C1 controls. */
const CONTROL = /[\x00-\x1f\x7f-\x9f]/

const CONTROL_MESSAGE = 'contains a line break or another control character (not shown: it may be a secret)'

/** A string without control characters. */
export const printable = z.string().refine((value) => !CONTROL.test(value), CONTROL_MESSAGE)

/** An HTTP header name: RFC 9110's token characters. */
export const headerName = z
  .string()
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "not a header name (letters, digits and !#$%&'*+.^_`|~-)")
