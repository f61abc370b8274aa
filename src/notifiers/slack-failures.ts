/**
 * Slack's failures, classified for the retry schedule, the same for both modes: errors only a person can fix are
 * permanent (and say what to fix); rate limits, server trouble and network errors are retried.
 * @module
 */
import { DeliveryError } from '../destinations/types.ts'
import { httpFailure, parseRetryAfter } from '../destinations/failures.ts'
import { requestHeaders } from './request-headers.ts'

/** Slack errors that retrying cannot fix, with what to do about them. */
const PERMANENT: Record<string, string> = {
  invalid_auth: 'the bot token is not valid: check notifiers.<name>.token',
  not_authed: 'no bot token was sent: set notifiers.<name>.token',
  token_revoked: 'the bot token was revoked: install the app again and update the token',
  token_expired: 'the bot token expired: refresh it and update notifiers.<name>.token',
  account_inactive: 'the bot token belongs to a deactivated user or workspace',
  missing_scope:
    'the app lacks a scope: it needs chat:write and files:write (and files:read for threading image messages)',
  channel_not_found:
    'the channel does not exist or the bot cannot see it: check notifiers.<name>.channel (use the channel id)',
  not_in_channel: 'the bot is not a member of the channel: invite it (/invite @your-app)',
  is_archived: 'the channel is archived',
  invalid_blocks: 'Slack refused the message blocks: check the notifier templates',
  msg_too_long: 'the message is too long: shorten the notifier templates',
  no_text: 'the message is empty: check the notifier templates',
  cant_update_message: 'the live message can no longer be updated',
  message_not_found: 'the live message was deleted',
  // incoming webhooks
  no_service: 'the incoming webhook was removed or disabled: create a new one and update notifiers.<name>.webhookUrl',
  invalid_token: 'the incoming webhook URL is not valid: check notifiers.<name>.webhookUrl',
  channel_is_archived: "the webhook's channel is archived",
  action_prohibited: 'a workspace admin restricted posting to this channel',
  invalid_payload: 'Slack refused the message: check the notifier templates',
}

/** Slack errors worth trying again. */
const TRANSIENT = new Set([
  'ratelimited',
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
  'team_added_to_org',
])

/**
 * What to do about a Slack error, when only a person can fix it. The error string comes from Slack (or whatever
 * answers in its place), so only the table's own keys count: `constructor` or `toString` is no fix.
 */
function fixFor(error: string): string | undefined {
  return Object.hasOwn(PERMANENT, error) ? PERMANENT[error] : undefined
}

/**
 * fetch, with network errors and non-2xx answers turned into classified DeliveryErrors. The headers are built
 * first (request-headers.ts), so no error quotes the bot token.
 */
export async function sendToSlack(
  url: string,
  init: RequestInit & { headers?: Record<string, string> },
  what: string,
): Promise<Response> {
  const headers = requestHeaders(init.headers ?? {}, what)
  let response: Response
  try {
    response = await fetch(url, { ...init, headers })
  } catch (error) {
    throw new DeliveryError(`${what}: Slack unreachable: ${(error as Error).message}`, { cause: error })
  }
  if (response.ok) return response
  // Incoming webhooks answer an error as a status with a short text body, such as `no_service`.
  const body = (await response.text().catch(() => '')).slice(0, 200)
  const text = body.trim()
  const failure = httpFailure(response.status, what, response.headers.get('retry-after'))
  const fix = fixFor(text)
  const hint = fix ? ` (${text}: ${fix})` : body ? ` (${text})` : ''
  throw new DeliveryError(`${failure.message}${hint}`, {
    permanent: failure.permanent,
    ...(failure.retryAfterMs !== undefined ? { retryAfterMs: failure.retryAfterMs } : {}),
  })
}

/** The Web API's `ok: false` answer as a DeliveryError. */
export function slackError(what: string, error: string, retryAfter: string | null): DeliveryError {
  const fix = fixFor(error)
  if (fix) return new DeliveryError(`${what}: ${error}: ${fix}`, { permanent: true })
  const retryAfterMs = parseRetryAfter(retryAfter)
  // An error we don't know is most likely a request Slack will refuse again; but server trouble is retried.
  return new DeliveryError(`${what}: ${error}`, {
    permanent: !TRANSIENT.has(error) && !error.endsWith('_timeout'),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  })
}
