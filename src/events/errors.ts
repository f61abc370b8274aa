/**
 * Why a verified body is not an event hookcast takes. Parsing knows nothing of HTTP: the app answers this with a 400.
 * @module
 */

export class HookRejected extends Error {
  override readonly name = 'HookRejected'
  /** A short machine-readable reason, e.g. `bad_timestamp`; the app's answer carries it as `error`. */
  readonly reason: string

  constructor(reason: string, message: string) {
    super(message)
    this.reason = reason
  }
}
