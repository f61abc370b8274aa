/**
 * The few Slack calls hookcast makes, with Slack's failures classified for the spool: `ok:false` errors that only
 * a person can fix are permanent (and say what to fix); rate limits and server trouble are retried.
 * @module
 */
import { DeliveryError } from '../destinations/types.ts'
import { httpFailure, parseRetryAfter } from '../destinations/failures.ts'

/** Slack errors that retrying cannot fix, with what to do about them. */
const PERMANENT: Record<string, string> = {
  invalid_auth: 'the bot token is not valid: check notifiers.<name>.token',
  not_authed: 'no bot token was sent: set notifiers.<name>.token',
  token_revoked: 'the bot token was revoked: install the app again and update the token',
  token_expired: 'the bot token expired: refresh it and update notifiers.<name>.token',
  account_inactive: 'the bot token belongs to a deactivated user or workspace',
  missing_scope: 'the app lacks a scope: it needs chat:write and files:write (and files:read for threading image messages)',
  channel_not_found: 'the channel does not exist or the bot cannot see it: check notifiers.<name>.channel (use the channel id)',
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
  channel_is_archived: 'the webhook\'s channel is archived',
  action_prohibited: 'a workspace admin restricted posting to this channel',
  invalid_payload: 'Slack refused the message: check the notifier templates',
}

/** Slack errors worth trying again. */
const TRANSIENT = new Set(['ratelimited', 'internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'team_added_to_org'])

export interface SlackWebApi {
  call<T extends Record<string, unknown>>(method: string, args: Record<string, unknown>, options?: { form?: boolean; signal?: AbortSignal }): Promise<T>
  /**
   * Slack's files upload v2: reserve an upload URL, POST the bytes, then complete it, sharing it as `share` says.
   * `beforeShare` runs just before the step that posts the message (for pacing).
   */
  uploadFile(bytes: Uint8Array, filename: string, share: Record<string, unknown>, beforeShare: () => Promise<void>, signal?: AbortSignal): Promise<string>
}

export function createSlackWebApi(apiUrl: string, token: string, label: string): SlackWebApi {
  const base = apiUrl.replace(/\/+$/, '')

  async function call<T extends Record<string, unknown>>(method: string, args: Record<string, unknown>, options: { form?: boolean; signal?: AbortSignal } = {}): Promise<T> {
    const body = options.form
      ? new URLSearchParams(Object.entries(args).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]))
      : JSON.stringify(args)
    const response = await send(`${base}/${method}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': options.form ? 'application/x-www-form-urlencoded' : 'application/json; charset=utf-8',
      },
      body,
      ...(options.signal ? { signal: options.signal } : {}),
    }, `${label} ${method}`)
    const result = (await response.json().catch(() => ({}))) as { ok?: boolean; error?: string } & T
    if (result.ok) return result
    throw slackError(`${label} ${method}`, result.error ?? 'unknown_error', response.headers.get('retry-after'))
  }

  return {
    call,
    async uploadFile(bytes, filename, share, beforeShare, signal) {
      const reserved = await call<{ upload_url: string; file_id: string }>('files.getUploadURLExternal', { filename, length: String(bytes.byteLength) }, { form: true, ...(signal ? { signal } : {}) })
      const uploaded = await send(reserved.upload_url, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: bytes as Uint8Array<ArrayBuffer>,
        ...(signal ? { signal } : {}),
      }, `${label} file upload`)
      await uploaded.body?.cancel().catch(() => {})
      await beforeShare()
      await call('files.completeUploadExternal', { files: [{ id: reserved.file_id, title: filename }], ...share }, signal ? { signal } : {})
      return reserved.file_id
    },
  }
}

/** Posts to an incoming webhook. Its errors come as HTTP statuses with a short text body. */
export async function postIncomingWebhook(url: string, message: Record<string, unknown>, label: string, signal?: AbortSignal): Promise<void> {
  await send(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify(message),
    ...(signal ? { signal } : {}),
  }, label)
}

/** fetch, with network errors and non-2xx answers turned into classified DeliveryErrors. */
async function send(url: string, init: RequestInit, what: string): Promise<Response> {
  let response: Response
  try {
    response = await fetch(url, init)
  } catch (error) {
    throw new DeliveryError(`${what}: Slack unreachable: ${(error as Error).message}`, { cause: error })
  }
  if (response.ok) return response
  const text = (await response.text().catch(() => '')).slice(0, 200)
  const failure = httpFailure(response.status, what, response.headers.get('retry-after'))
  const hint = PERMANENT[text.trim()] ? ` (${text.trim()}: ${PERMANENT[text.trim()]})` : text ? ` (${text.trim()})` : ''
  throw new DeliveryError(`${failure.message}${hint}`, {
    permanent: failure.permanent,
    ...(failure.retryAfterMs !== undefined ? { retryAfterMs: failure.retryAfterMs } : {}),
  })
}

function slackError(what: string, error: string, retryAfter: string | null): DeliveryError {
  const fix = PERMANENT[error]
  if (fix) return new DeliveryError(`${what}: ${error}: ${fix}`, { permanent: true })
  const retryAfterMs = parseRetryAfter(retryAfter)
  // An error we don't know is most likely a request Slack will refuse again; but server trouble is retried.
  return new DeliveryError(`${what}: ${error}`, {
    permanent: !TRANSIENT.has(error) && !error.endsWith('_timeout'),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  })
}
