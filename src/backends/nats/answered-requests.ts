/**
 * A workaround for the NATS client (@nats-io/nats-core 3.4): once a request is answered, it resolves the request's
 * promise and then cancels the request, and its cancel rejects that promise again with a new RequestError
 * ("cancelled"), which the settled promise ignores. That is an Error, with its stack trace, per answered request:
 * every JetStream publish, direct get, ack and KV read, ~4 % of a NATS gateway's CPU under load (bench/profile.ts
 * --nats). Here an answered request's cancel only lets go of its timer and its reply subscription; a cancel before
 * an answer (a timeout, a closed connection) is the client's own. test/backends/nats/answered-requests.test.ts
 * counts the errors made, so a client release that changes this is noticed.
 * @module
 */
import { RequestOne } from '@nats-io/nats-core/internal'

const ANSWERED = Symbol('hookcast.answered')

interface Request {
  [ANSWERED]?: true
  timer?: { cancel(): void }
  mux: { cancel(request: unknown): void }
  resolver(err: Error | null, msg: unknown): void
  cancel(err?: Error): void
}

let patched = false

/** Makes answered requests build no Error (once per process; the client's module is shared). */
export function answeredRequestsBuildNoError(): void {
  if (patched) return
  patched = true
  const proto = RequestOne.prototype as unknown as Request
  const { resolver, cancel } = proto
  proto.resolver = function (this: Request, err, msg) {
    this[ANSWERED] = true
    resolver.call(this, err, msg)
  }
  proto.cancel = function (this: Request, err?: Error) {
    if (err !== undefined || !this[ANSWERED]) return cancel.call(this, err)
    this.timer?.cancel()
    this.mux.cancel(this)
  }
}
