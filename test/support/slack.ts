/**
 * A local stand-in for Slack (no official mock exists): the Web API methods hookcast calls, the upload URLs of the
 * files upload v2 flow, and an incoming webhook. It records what would have been posted and can be told to fail.
 */
import { startReceiver, type Answer, type Receiver, type RecordedRequest } from './receiver.ts'

export const BOT_TOKEN = 'xoxb-test-token'
export const CHANNEL = 'C0HOOKCAST'

export interface SlackMessage {
  /** `chat.postMessage`, `chat.update`, `upload` (a file shared by completeUploadExternal), or `webhook`. */
  via: 'chat.postMessage' | 'chat.update' | 'upload' | 'webhook'
  channel: string
  ts: string
  threadTs?: string
  text?: string
  blocks: Array<Record<string, unknown>>
  /** The uploaded bytes, for `upload`. */
  file?: Buffer
  at: number
}

export interface SlackStandIn {
  url: string
  apiUrl: string
  webhookUrl: string
  receiver: Receiver
  messages: SlackMessage[]
  /** Answers to use instead of the normal one, per method (`chat.postMessage`, `webhook`, ...), first in first out. */
  failures: Record<string, Answer[]>
  close(): Promise<void>
}

export async function startSlack(): Promise<SlackStandIn> {
  const receiver = await startReceiver()
  const uploads = new Map<
    string,
    { bytes?: Buffer; filename: string; shares?: Record<string, Array<{ ts: string }>> }
  >()
  let counter = 0
  const nextTs = () => `1700000000.${String(++counter).padStart(6, '0')}`
  const slack: SlackStandIn = {
    url: receiver.url,
    apiUrl: `${receiver.url}/api`,
    webhookUrl: `${receiver.url}/services/T000/B000/XXXX`,
    receiver,
    messages: [],
    failures: {},
    close: () => receiver.close(),
  }
  const args = (request: RecordedRequest): Record<string, unknown> => {
    const type = String(request.headers['content-type'] ?? '')
    if (type.startsWith('application/json')) return JSON.parse(request.body.toString()) as Record<string, unknown>
    return Object.fromEntries(new URLSearchParams(request.body.toString()))
  }
  const ok = (body: Record<string, unknown>): Answer => ({ body: JSON.stringify({ ok: true, ...body }) })
  const blocksOf = (value: unknown) =>
    (typeof value === 'string' ? JSON.parse(value) : (value ?? [])) as Array<Record<string, unknown>>

  receiver.answer = (request) => {
    const method = request.path.startsWith('/api/')
      ? request.path.slice(5)
      : request.path.startsWith('/upload/')
        ? 'upload'
        : 'webhook'
    const failure = slack.failures[method]?.shift()
    if (failure) return failure
    if (method === 'webhook') {
      const message = JSON.parse(request.body.toString()) as { text?: string; blocks?: unknown }
      slack.messages.push({
        via: 'webhook',
        channel: 'webhook',
        ts: nextTs(),
        text: message.text,
        blocks: blocksOf(message.blocks),
        at: request.at,
      })
      return { body: 'ok', headers: { 'content-type': 'text/plain' } }
    }
    if (method === 'upload') {
      const upload = uploads.get(request.path.slice('/upload/'.length))
      if (!upload) return { status: 404, body: 'no such upload' }
      upload.bytes = request.body
      return { body: `OK - ${request.body.length}`, headers: { 'content-type': 'text/plain' } }
    }
    if (request.headers.authorization !== `Bearer ${BOT_TOKEN}`)
      return { body: JSON.stringify({ ok: false, error: 'invalid_auth' }) }
    const a = args(request)
    switch (method) {
      case 'files.getUploadURLExternal': {
        const id = `F${String(++counter).padStart(8, '0')}`
        uploads.set(id, { filename: String(a.filename) })
        return ok({ upload_url: `${receiver.url}/upload/${id}`, file_id: id })
      }
      case 'files.completeUploadExternal': {
        const files = (typeof a.files === 'string' ? JSON.parse(a.files) : a.files) as Array<{ id: string }>
        const upload = uploads.get(files[0]!.id)
        if (!upload?.bytes) return { body: JSON.stringify({ ok: false, error: 'file_not_found' }) }
        const channel = String(a.channel_id)
        const ts = nextTs()
        upload.shares = { [channel]: [{ ts }] }
        slack.messages.push({
          via: 'upload',
          channel,
          ts,
          ...(a.thread_ts ? { threadTs: String(a.thread_ts) } : {}),
          blocks: blocksOf(a.blocks),
          file: upload.bytes,
          at: request.at,
        })
        return ok({ files: [{ id: files[0]!.id, title: upload.filename }] })
      }
      case 'files.info': {
        const upload = uploads.get(String(a.file))
        if (!upload) return { body: JSON.stringify({ ok: false, error: 'file_not_found' }) }
        return ok({ file: { id: a.file, shares: { public: upload.shares ?? {} } } })
      }
      case 'chat.postMessage':
      case 'chat.update': {
        if (a.channel !== CHANNEL) return { body: JSON.stringify({ ok: false, error: 'channel_not_found' }) }
        const ts = method === 'chat.update' ? String(a.ts) : nextTs()
        slack.messages.push({
          via: method,
          channel: String(a.channel),
          ts,
          ...(a.thread_ts ? { threadTs: String(a.thread_ts) } : {}),
          text: a.text as string,
          blocks: blocksOf(a.blocks),
          at: request.at,
        })
        return ok({ channel: a.channel, ts })
      }
      default:
        return { body: JSON.stringify({ ok: false, error: 'unknown_method' }) }
    }
  }
  return slack
}

/** The text of a message's blocks, for assertions. */
export function blockText(message: SlackMessage): string {
  return JSON.stringify(message.blocks)
}
