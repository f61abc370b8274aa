/**
 * Checks of the stream and feed ids that end up in storage keys and file names.
 * @module
 */

/** `account/name`: exactly one slash, no empty, `.` or `..` part, no control or path characters. */
export function isStreamId(value: string): boolean {
  const parts = value.split('/')
  return parts.length === 2 && parts.every(isSafeSegment)
}

function isSafeSegment(value: string): boolean {
  return (
    value.length > 0 &&
    value.length <= 256 &&
    value !== '.' &&
    value !== '..' &&
    !/[\u0000-\u001f\u007f\\/:*?"<>|]/.test(value)
  )
}

/** A feed id looks like the platform's UUIDs, or at worst a short token of letters, digits and dashes. */
export function isFeedId(value: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/.test(value)
}

/** Splits `account/name` into its parts. */
export function splitStreamId(streamId: string): { accountId: string; streamName: string } | undefined {
  const slash = streamId.indexOf('/')
  if (slash <= 0) return undefined
  return { accountId: streamId.slice(0, slash), streamName: streamId.slice(slash + 1) }
}
