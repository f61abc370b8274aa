/**
 * The floor: the least work a correct receiver does. Plain node:http; the body is read once, HMAC-SHA1 hashed as
 * it streams, checked against the signature, written to a file, and answered 200. No routing, no spool, no logs.
 *
 *   PORT=0 HOST=127.0.0.1 DATA=dir SECRET=base64 node --import tsx bench/servers/floor.ts
 * @module
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'

const key = Buffer.from(process.env.SECRET!, 'base64')
const dir = process.env.DATA!
const LIMIT = 16 * 1024 * 1024

const server = createServer((req, res) => {
  const answer = (status: number, body: string) =>
    res.writeHead(status, { 'content-type': 'application/json' }).end(body)
  const hmac = createHmac('sha1', key)
  const chunks: Buffer[] = []
  let length = 0
  req.on('data', (chunk: Buffer) => {
    length += chunk.length
    if (length > LIMIT) {
      answer(413, '{"ok":false}')
      req.destroy()
      return
    }
    hmac.update(chunk)
    chunks.push(chunk)
  })
  req.on('end', () => {
    const given = /^sha1=([0-9a-f]{40})$/.exec((req.headers['x-millicast-signature'] as string) ?? '')?.[1]
    const mac = hmac.digest()
    if (!given || !timingSafeEqual(mac, Buffer.from(given, 'hex'))) return answer(401, '{"ok":false}')
    const id = mac.toString('hex')
    writeFile(
      join(dir, `${id}.${req.headers['content-type'] === 'image/jpeg' ? 'jpg' : 'json'}`),
      Buffer.concat(chunks, length),
    ).then(
      () => answer(200, `{"ok":true,"id":"${id}"}`),
      () => answer(500, '{"ok":false}'),
    )
  })
})
server.keepAliveTimeout = 60_000
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  console.log(JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${port}`, runtime: `node ${process.version}` }))
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
