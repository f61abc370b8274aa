/**
 * The Slack Web API client of bot mode: a method call with the bot token, and the files upload v2 flow. Failures
 * are classified as in webhook mode.
 * @module
 */
import { sendToSlack, slackError } from './slack-failures.ts'

export interface SlackWebApi {
  call<T extends Record<string, unknown>>(
    method: string,
    args: Record<string, unknown>,
    options?: { form?: boolean; signal?: AbortSignal },
  ): Promise<T>
  /**
   * Slack's files upload v2: reserve an upload URL, POST the bytes, then complete it, sharing it as `share` says.
   * `beforeShare` runs just before the step that posts the message (for pacing).
   */
  uploadFile(
    bytes: Uint8Array,
    filename: string,
    share: Record<string, unknown>,
    beforeShare: () => Promise<void>,
    signal?: AbortSignal,
  ): Promise<string>
}

export function createSlackWebApi(apiUrl: string, token: string, label: string): SlackWebApi {
  const base = apiUrl.replace(/\/+$/, '')

  async function call<T extends Record<string, unknown>>(
    method: string,
    args: Record<string, unknown>,
    options: { form?: boolean; signal?: AbortSignal } = {},
  ): Promise<T> {
    const body = options.form
      ? new URLSearchParams(Object.entries(args).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]))
      : JSON.stringify(args)
    const response = await sendToSlack(
      `${base}/${method}`,
      {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': options.form ? 'application/x-www-form-urlencoded' : 'application/json; charset=utf-8',
        },
        body,
        ...(options.signal ? { signal: options.signal } : {}),
      },
      `${label} ${method}`,
    )
    const result = (await response.json().catch(() => ({}))) as { ok?: boolean; error?: string } & T
    if (result.ok) return result
    throw slackError(`${label} ${method}`, result.error ?? 'unknown_error', response.headers.get('retry-after'))
  }

  return {
    call,
    async uploadFile(bytes, filename, share, beforeShare, signal) {
      const reserved = await call<{ upload_url: string; file_id: string }>(
        'files.getUploadURLExternal',
        { filename, length: String(bytes.byteLength) },
        { form: true, ...(signal ? { signal } : {}) },
      )
      const uploaded = await sendToSlack(
        reserved.upload_url,
        {
          method: 'POST',
          headers: { 'content-type': 'application/octet-stream' },
          body: bytes as Uint8Array<ArrayBuffer>,
          ...(signal ? { signal } : {}),
        },
        `${label} file upload`,
      )
      await uploaded.body?.cancel().catch(() => {})
      await beforeShare()
      await call(
        'files.completeUploadExternal',
        { files: [{ id: reserved.file_id, title: filename }], ...share },
        signal ? { signal } : {},
      )
      return reserved.file_id
    },
  }
}
