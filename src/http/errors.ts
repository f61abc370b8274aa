/**
 * The one HTTP-aware error. Anything in the request path throws it; `app.ts` turns it into a response in one place.
 * @module
 */
import { HookRejected } from '../events/errors.ts'

export class HttpError extends Error {
  readonly status: number
  /** A short machine-readable reason, e.g. `bad_signature`. */
  readonly reason: string
  readonly headers: Record<string, string>

  constructor(status: number, reason: string, message: string, headers: Record<string, string> = {}) {
    super(message)
    this.name = 'HttpError'
    this.status = status
    this.reason = reason
    this.headers = headers
  }

  toResponse(): Response {
    return Response.json(
      { ok: false, error: this.reason, message: this.message },
      { status: this.status, headers: this.headers },
    )
  }
}

/** The answer an error stands for: an `HttpError` as it is, a refused hook as a 400; undefined for anything else. */
export function httpErrorOf(error: unknown): HttpError | undefined {
  if (error instanceof HttpError) return error
  if (error instanceof HookRejected) return new HttpError(400, error.reason, error.message)
  return undefined
}
