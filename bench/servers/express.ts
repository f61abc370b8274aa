/**
 * The receiver people write from the platform's docs: Express, a raw body parser, HMAC-SHA1 of the buffered body,
 * a file write, 200.
 *
 *   PORT=0 HOST=127.0.0.1 DATA=dir SECRET=base64 node --import tsx bench/servers/express.ts
 * @module
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import express from 'express'

const key = Buffer.from(process.env.SECRET!, 'base64')
const dir = process.env.DATA!

const app = express()
app.post('/hooks/millicast', express.raw({ type: () => true, limit: '16mb' }), async (req, res) => {
  const body = req.body as Buffer
  const signature = String(req.headers['x-millicast-signature'] ?? '')
  const expected = 'sha1=' + createHmac('sha1', key).update(body).digest('hex')
  if (signature.length !== expected.length || !timingSafeEqual(Buffer.from(signature), Buffer.from(expected))) {
    return res.status(401).json({ ok: false })
  }
  const id = expected.slice(5)
  await writeFile(join(dir, `${id}.${req.headers['content-type'] === 'image/jpeg' ? 'jpg' : 'json'}`), body)
  res.json({ ok: true, id })
})
const server = app.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  console.log(JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${port}`, runtime: `node ${process.version}` }))
})
server.keepAliveTimeout = 60_000
process.on('SIGTERM', () => server.close(() => process.exit(0)))
