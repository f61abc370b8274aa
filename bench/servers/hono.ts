/**
 * The floor's work in a Hono app on @hono/node-server, the HTTP layer hookcast's Node entry uses (body read
 * straight from the IncomingMessage, as adapters/node.ts does): what any Hono receiver pays on Node before doing
 * anything of its own. The gap between this and the floor is the framework's; between hookcast and this, hookcast's.
 *
 *   PORT=0 HOST=127.0.0.1 DATA=dir SECRET=base64 node --import tsx bench/servers/hono.ts
 * @module
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { serve, type HttpBindings } from '@hono/node-server'
import { Hono } from 'hono'

const key = Buffer.from(process.env.SECRET!, 'base64')
const dir = process.env.DATA!
const LIMIT = 16 * 1024 * 1024

const app = new Hono<{ Bindings: HttpBindings }>()
app.post('/hooks/millicast', async (c) => {
  const hmac = createHmac('sha1', key)
  const chunks: Buffer[] = []
  let length = 0
  for await (const chunk of c.env.incoming.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    length += chunk.length
    if (length > LIMIT) return c.json({ ok: false }, 413)
    hmac.update(chunk)
    chunks.push(chunk)
  }
  const given = /^sha1=([0-9a-f]{40})$/.exec(c.req.header('x-millicast-signature') ?? '')?.[1]
  const mac = hmac.digest()
  if (!given || !timingSafeEqual(mac, Buffer.from(given, 'hex'))) return c.json({ ok: false }, 401)
  const id = mac.toString('hex')
  await writeFile(
    join(dir, `${id}.${c.req.header('content-type') === 'image/jpeg' ? 'jpg' : 'json'}`),
    Buffer.concat(chunks, length),
  )
  return c.json({ ok: true, id })
})

const server = serve(
  { fetch: app.fetch, port: Number(process.env.PORT ?? 0), hostname: process.env.HOST ?? '127.0.0.1' },
  (info) => {
    console.log(
      JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${info.port}`, runtime: `node ${process.version}` }),
    )
  },
)
process.on('SIGTERM', () => server.close(() => process.exit(0)))
