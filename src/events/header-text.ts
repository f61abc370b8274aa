/**
 * One rule for header values on every runtime and front. HTTP sends them as bytes, and a server's Headers hold
 * those bytes one character per byte (a WHATWG ByteString: Latin-1). The platform's thumbnail headers carry stream
 * ids, which are UTF-8 text like the same ids in its JSON hooks: so a value is decoded as UTF-8, and one whose bytes
 * are not UTF-8 is refused (400). U+FFFD is refused too: it is what a front that decodes header bytes itself (AWS,
 * into a Lambda event) puts where bytes were not UTF-8; the Lambda entry hands the app such values as their UTF-8
 * bytes again, so it answers as the servers do.
 * @module
 */
import { HookRejected } from './errors.ts'

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** The value of header `name` as text (undefined when absent); throws HookRejected when it is not UTF-8. */
export function headerText(headers: Headers, name: string): string | undefined {
  const value = headers.get(name)
  if (value === null || !/[^\u0000-\u007f]/.test(value)) return value ?? undefined
  const bytes = new Uint8Array(value.length)
  for (let i = 0; i < value.length; i++) bytes[i] = value.charCodeAt(i) // at most 0xFF in a Headers value
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    throw new HookRejected('bad_header_encoding', `${name} is not valid UTF-8`)
  }
  if (text.includes('\uFFFD')) {
    throw new HookRejected('bad_header_encoding', `${name} holds U+FFFD (bytes that were not UTF-8)`)
  }
  return text
}
