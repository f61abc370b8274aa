/**
 * `hookcast send <kind>`: signs and sends a realistic platform webhook, to try a deployment end to end.
 * @module
 */
import { readFile } from 'node:fs/promises'
import type { Env } from '../config/interpolate.ts'
import { DEV_SECRET } from '../config/embedded.ts'
import { isStreamId } from '../events/stream-ids.ts'
import { sign } from '../verify/verifier.ts'
import { decodeBase64, toHex } from '../util/encoding.ts'
import { SAMPLE_KINDS, samplePayload } from './samples.ts'
import { parseCommand, UsageError } from './args.ts'
import { gatewayHookUrl } from './gateway-url.ts'
import type { Io } from './io.ts'

export const SEND_SPEC = {
  name: 'send',
  usage: `usage: hookcast send <kind> [--url URL] [--secret B64] [--stream ACCOUNT/NAME] [--feed ID] [--token-id N]
                     [--file frame.jpg]

Signs and sends a realistic platform webhook, to try a gateway end to end.
  kinds: ${wrap(SAMPLE_KINDS.join(', '), 100).join('\n         ')}
  --url URL             where to post; default: the gateway of this directory: http://127.0.0.1:<port><path>, with
                        the port from $PORT, else server.port of the config (as hookcast serve finds it), else 8080,
                        the host from $HOST or server.host (loopback for 0.0.0.0 and ::), the path of its first source
  --secret B64          default: $MILLICAST_WEBHOOK_SECRET, else the published development secret (as the gateway
                        with no config)
  --stream ACCOUNT/NAME default: ZG6NWV/hookcast-test
  --feed ID             default: derived from the stream, so feeds-started and feeds-ended of one stream match
  --token-id N          default: 1187282
  --file frame.jpg      the thumbnail's JPEG; default: a built-in test card`,
  options: {
    url: { type: 'string' },
    secret: { type: 'string' },
    stream: { type: 'string' },
    feed: { type: 'string' },
    'token-id': { type: 'string' },
    file: { type: 'string' },
  },
  positionals: true,
} as const

export async function sendCommand(args: readonly string[], env: Env, io: Io): Promise<number> {
  const { values, positionals } = parseCommand(SEND_SPEC, args)
  const kind = positionals[0]
  if (!kind || !SAMPLE_KINDS.includes(kind))
    throw new UsageError(
      kind
        ? `hookcast send: unknown kind "${kind}"; valid kinds: ${SAMPLE_KINDS.join(', ')}`
        : 'hookcast send: which kind?',
    )
  if (positionals.length > 1) throw new UsageError(`hookcast send: unexpected argument "${positionals[1]}"`)
  const url = values.url ?? (await gatewayHookUrl(env))
  // As the gateway with no config: the published development secret when none is set (that gateway then listens
  // on loopback only, so this fits trying it on one machine).
  const secret = values.secret ?? (env.MILLICAST_WEBHOOK_SECRET || DEV_SECRET)
  if (!decodeBase64(secret)?.byteLength) {
    io.err('the signing secret must be base64: --secret B64 or MILLICAST_WEBHOOK_SECRET')
    return 2
  }
  if (secret === DEV_SECRET && values.secret === undefined)
    io.err('signing with the development secret (MILLICAST_WEBHOOK_SECRET is not set)')
  const stream = values.stream ?? 'ZG6NWV/hookcast-test'
  if (!isStreamId(stream)) {
    io.err(`--stream must be account/name, got "${stream}"`)
    return 2
  }
  const options = {
    stream,
    feedId: values.feed ?? (await feedIdOf(stream)),
    tokenId: values['token-id'] ?? '1187282',
    now: Date.now(),
  }

  let body: Uint8Array
  const headers: Record<string, string> = {}
  if (kind === 'thumbnail') {
    body = new Uint8Array(await readFile(values.file ?? new URL('./sample-frame.jpg', import.meta.url)))
    Object.assign(headers, {
      'content-type': 'image/jpeg',
      'x-millicast-feed-id': options.feedId,
      'x-millicast-stream-id': stream,
      'x-millicast-timestamp': String(options.now),
      'x-millicast-token-id': options.tokenId,
    })
  } else {
    body = new TextEncoder().encode(JSON.stringify(samplePayload(kind, options)))
    headers['content-type'] = 'application/json'
  }
  headers['x-millicast-signature'] = await sign(body, secret)

  let response: Response
  try {
    response = await fetch(url, { method: 'POST', headers, body: body as Uint8Array<ArrayBuffer> })
  } catch (error) {
    io.err(`cannot reach ${url}: ${(error as Error).message}`)
    return 1
  }
  io.out(`${response.status} ${(await response.text()).trim()}`)
  return response.ok ? 0 : 1
}

/** A UUID-shaped feed id that is the same for every send to one stream. */
async function feedIdOf(stream: string): Promise<string> {
  const hex = toHex(
    new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`hookcast-send:${stream}`))),
  )
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}

/** `text` in lines of at most `width` characters, broken after commas. */
function wrap(text: string, width: number): string[] {
  const lines = ['']
  for (const word of text.split(' ')) {
    if (lines.at(-1)!.length + word.length + 1 > width) lines.push('')
    lines[lines.length - 1] = `${lines.at(-1)} ${word}`.trimStart()
  }
  return lines
}
