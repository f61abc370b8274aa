/**
 * Realistic platform webhooks for tests: the payloads of docs/protocol.md, signed the platform's way.
 */
import { readFileSync } from 'node:fs'
import { sign } from '../../src/verify/verifier.ts'
import { fetchOnce } from './fetch-once.ts'

/** The published test secret (docs/protocol.md §2.4) ("millicast-test-secret-0123456789", base64). */
export const SECRET = 'bWlsbGljYXN0LXRlc3Qtc2VjcmV0LTAxMjM0NTY3ODk='
export const OTHER_SECRET = btoa('another-secret-used-while-rotating')

export const FEED_ID = '369e4a86-f937-4254-bd9f-99dc484d2bd6'
export const STREAM_ID = 'ZG6NWV/sample_stream'

/** One documented payload per JSON hook kind (docs/protocol.md §3-§7). */
export const PAYLOADS = {
  feedsStarted: {
    type: 'feeds',
    event: 'started',
    timestamp: 1638463486489,
    data: {
      feedId: FEED_ID,
      accountId: 'ZG6NWV',
      name: 'sample_stream',
      streamId: STREAM_ID,
      started: 1638463486359,
      active: true,
    },
  },
  feedsEnded: {
    type: 'feeds',
    event: 'ended',
    timestamp: 1638463501075,
    data: {
      feedId: FEED_ID,
      accountId: 'ZG6NWV',
      name: 'sample_stream',
      streamId: STREAM_ID,
      active: false,
      ended: 1638463500963,
    },
  },
  recordingsCompleted: {
    type: 'recordings',
    event: 'completed',
    timestamp: 1639296471486,
    data: {
      recordFileId: 7975,
      tokenId: 142366,
      streamName: 'testy',
      recordedOn: 1639296463000,
      metadata: { format: 'MPEG-4', sizes: { concat: 92791, dash: 97934, thumbnails: 0 }, duration: 1, tracks: [] },
    },
  },
  mediaCompleted: {
    type: 'media',
    event: 'completed',
    timestamp: 1725260343575,
    data: {
      mediaAssetId: 'e0ca421e3ee748629d073b6991d4d93d',
      tokenId: 1187282,
      streamName: 'test-record-clip',
      streamId: 'dkxfvY/test-record-clip',
      startTime: 1725259874671,
      metadata: {},
      type: 'clip',
      expiration: 1733900336143,
    },
  },
  transcoderActive: {
    type: 'transcoder',
    event: 'ACTIVE',
    timestamp: 1724889842678,
    data: {
      transcoderId: '0d09f40-2988-47aa-8ac7-dca04b971cf',
      transcoderName: 'test_webhooks',
      cluster: 'lon-1',
      createdOn: '2024-08-29T00:04:02Z',
      status: 'Active',
    },
  },
  viewerAttempt: {
    type: 'viewerConnection',
    event: 'ViewerAttempt',
    timestamp: 1727740800123,
    data: { name: 'sample_stream', accountId: 'ZG6NWV', streamId: STREAM_ID },
  },
} as const

export const FRAME = new Uint8Array(readFileSync(new URL('../../src/cli/sample-frame.jpg', import.meta.url)))

/**
 * A valid, decodable JPEG made distinct by a comment segment (and padded with more of them to `size` bytes),
 * so every thumbnail of a test has its own bytes.
 */
export function jpeg(seed: string, size = 0): Uint8Array {
  const comment = (text: Uint8Array) => {
    const segment = new Uint8Array(4 + text.byteLength)
    segment.set([0xff, 0xfe, (text.byteLength + 2) >> 8, (text.byteLength + 2) & 0xff])
    segment.set(text, 4)
    return segment
  }
  const parts = [FRAME.subarray(0, 2), comment(new TextEncoder().encode(seed))]
  let total = FRAME.byteLength + parts[1]!.byteLength
  while (total < size) {
    const fill = new Uint8Array(Math.min(65_000, Math.max(1, size - total - 4))).fill(0x20 + (total % 90))
    parts.push(comment(fill))
    total += fill.byteLength + 4
  }
  parts.push(FRAME.subarray(2))
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.byteLength
  }
  return out
}

export interface SignedHook {
  body: Uint8Array
  headers: Record<string, string>
}

export async function signedJson(payload: unknown, secret = SECRET): Promise<SignedHook> {
  return signedRaw(JSON.stringify(payload), secret)
}

/** Signs text as it is, for bodies that are not valid JSON. */
export async function signedRaw(text: string, secret = SECRET): Promise<SignedHook> {
  const body = new TextEncoder().encode(text)
  return { body, headers: { 'content-type': 'application/json', 'x-millicast-signature': await sign(body, secret) } }
}

export async function signedThumbnail(
  options: {
    body?: Uint8Array
    feedId?: string
    streamId?: string
    timestamp?: number | string
    tokenId?: string
    secret?: string
  } = {},
): Promise<SignedHook> {
  const body = options.body ?? jpeg(`thumb-${Math.random()}`)
  const headers: Record<string, string> = {
    'content-type': 'image/jpeg',
    'x-millicast-signature': await sign(body, options.secret ?? SECRET),
    'x-millicast-feed-id': options.feedId ?? FEED_ID,
    'x-millicast-stream-id': options.streamId ?? STREAM_ID,
    'x-millicast-timestamp': String(options.timestamp ?? 1679973930415),
  }
  if (options.tokenId !== undefined) headers['x-millicast-token-id'] = options.tokenId
  return { body, headers }
}

/** POSTs a signed hook to an in-process fetch, or to a URL on a connection of its own (fetch-once.ts says why). */
export async function post(
  url: string,
  hook: SignedHook,
  fetcher?: (request: Request) => Response | Promise<Response>,
): Promise<Response> {
  if (!fetcher) return fetchOnce(url, { method: 'POST', headers: hook.headers, body: hook.body })
  return fetcher(
    new Request(url, { method: 'POST', headers: hook.headers, body: hook.body as Uint8Array<ArrayBuffer> }),
  )
}
