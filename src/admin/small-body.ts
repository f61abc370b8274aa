/**
 * The body of a sign-in form or a replay filter: a few hundred bytes, so anything past a small limit is refused
 * (413) before it is held. Read here rather than by a middleware that swaps the request, so the request keeps its
 * identity (the client address is looked up by it).
 * @module
 */
import type { Context } from 'hono'
import { HttpError } from '../http/errors.ts'

const SMALL_BODY_BYTES = 4096

export async function smallBody(c: Context, max = SMALL_BODY_BYTES): Promise<string> {
  const tooLarge = () => new HttpError(413, 'too_large', `at most ${max} bytes`)
  if (Number(c.req.header('content-length') ?? 0) > max) throw tooLarge()
  const body = c.req.raw.body
  if (!body) return ''
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > max) {
      await reader.cancel().catch(() => {})
      throw tooLarge()
    }
    chunks.push(value)
  }
  const bytes = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.byteLength
  }
  return new TextDecoder().decode(bytes)
}
