/**
 * s3rver ignores `If-Match` and `If-None-Match` on PutObject and `If-Match` on DeleteObject (it honours only
 * `If-None-Match` on GET; the first tests of s3-queue.test.ts show it): every conditional write succeeds there. This
 * pass-through proxy in front of it gives writes AWS S3's conditional semantics, so tests can race real HTTP
 * requests against them:
 *
 * - Every request on one object key (PUT, DELETE, GET, HEAD) is serialised: one at a time per key, in arrival
 *   order. Reads too, because s3rver replaces an object's metadata (its ETag) before its content: a GET in between
 *   would get the new ETag with the old bytes, which S3 never shows, and a conditional write made on that ETag would
 *   go through on a state its writer never saw. LISTs pass at once (their ETags are only hints to the queue).
 * - A conditional one first reads the object's current ETag from s3rver (HEAD, under that key's turn), and is
 *   answered as AWS answers: `If-None-Match: *` on an existing object -> 412 PreconditionFailed; `If-Match` on a
 *   missing object -> 404 NoSuchKey; `If-Match` naming another ETag -> 412. Otherwise it is forwarded.
 *
 * What this proves: the queue's and the stream store's logic is right given a store that checks each precondition
 * atomically against the object's current version. It proves nothing about AWS itself: that S3's checks are
 * atomic, its `409 ConditionalRequestConflict` under load (objects.ts retries it a few times, then fails; produced
 * here only with `conflictEvery`), list-after-write consistency, or the IAM a
 * deployment needs. Those only AWS can show.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll } from 'vitest'
import { S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, startS3Server, type S3TestServer } from '../../support/s3-server.ts'

const SUBRESOURCES = ['uploads', 'uploadId', 'partNumber', 'tagging', 'acl', 'retention', 'legal-hold']

export interface ConditionalProxy {
  endpoint: string
  /** What the proxy decided, for tests to show the races they meant to cause did happen. */
  readonly counts: { conditional: number; preconditionFailed: number; noSuchKey: number; conflicts: number }
  stop(): Promise<void>
}

export interface ConditionalProxyOptions {
  /** Answer every n-th conditional request 409 ConditionalRequestConflict, as AWS may under contention (0: never). */
  conflictEvery?: number
}

export async function startConditionalProxy(
  upstream: string,
  options: ConditionalProxyOptions = {},
): Promise<ConditionalProxy> {
  const target = new URL(upstream)
  const turns = new Map<string, Promise<void>>()
  const counts = { conditional: 0, preconditionFailed: 0, noSuchKey: 0, conflicts: 0 }

  /** Runs `work` after every earlier write of `key` finished. */
  function inTurn(key: string, work: () => Promise<void>): Promise<void> {
    const before = turns.get(key) ?? Promise.resolve()
    const mine = before.then(work, work)
    const tail = mine.catch(() => {})
    turns.set(key, tail)
    void tail.then(() => {
      if (turns.get(key) === tail) turns.delete(key)
    })
    return mine
  }

  function forward(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer | undefined,
    method = req.method!,
  ): Promise<{ status: number; etag: string | undefined }> {
    return new Promise((resolve, reject) => {
      const headers = { ...req.headers, host: target.host }
      if (method === 'HEAD') {
        delete headers['content-length']
        delete headers['content-type']
        delete headers['transfer-encoding']
        delete headers['if-match'] // s3rver would answer a HEAD with If-None-Match: * 304
        delete headers['if-none-match']
      }
      const out = request({ host: target.hostname, port: target.port, method, path: req.url, headers }, (answer) => {
        if (method === 'HEAD' && method !== req.method) {
          answer.resume()
          answer.on('end', () => resolve({ status: answer.statusCode ?? 0, etag: answer.headers.etag }))
          return
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
        answer.on('end', () => resolve({ status: answer.statusCode ?? 0, etag: answer.headers.etag }))
        answer.on('error', reject)
      })
      out.on('error', reject)
      out.end(method === 'HEAD' ? undefined : body)
    })
  }

  function refuse(res: ServerResponse, status: number, code: string, message: string): void {
    res.writeHead(status, { 'content-type': 'application/xml' })
    res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`)
  }

  const unquote = (etag: string) => etag.trim().replace(/^W\//, '').replace(/^"|"$/g, '')

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined
      const url = new URL(req.url ?? '/', 'http://proxy')
      const path = url.pathname
      // The SDK adds `?x-id=PutObject`; subresources (multipart parts, tags, ACLs) are not the object's versions.
      const isObject =
        path.split('/').filter(Boolean).length >= 2 && !SUBRESOURCES.some((name) => url.searchParams.has(name))
      if (!isObject) {
        forward(req, res, body).catch(() => refuse(res, 502, 'BadGateway', 'upstream failed'))
        return
      }
      const ifMatch = req.headers['if-match']
      const ifNoneMatch = req.headers['if-none-match']
      const write = req.method === 'PUT' || req.method === 'DELETE'
      void inTurn(path, async () => {
        if (write && (ifMatch !== undefined || ifNoneMatch !== undefined)) {
          counts.conditional++
          if (options.conflictEvery && counts.conditional % options.conflictEvery === 0) {
            counts.conflicts++
            return refuse(
              res,
              409,
              'ConditionalRequestConflict',
              'A conflicting conditional operation is currently in progress against this resource. Try again.',
            )
          }
          const head = await forward(req, res, undefined, 'HEAD')
          const exists = head.status === 200
          if (ifNoneMatch !== undefined && req.method === 'PUT' && ifNoneMatch.trim() === '*' && exists) {
            counts.preconditionFailed++
            return refuse(
              res,
              412,
              'PreconditionFailed',
              'At least one of the pre-conditions you specified did not hold',
            )
          }
          if (ifMatch !== undefined) {
            if (!exists) {
              counts.noSuchKey++
              return refuse(res, 404, 'NoSuchKey', 'The specified key does not exist.')
            }
            if (ifMatch.trim() !== '*' && unquote(ifMatch) !== unquote(head.etag ?? '')) {
              counts.preconditionFailed++
              return refuse(
                res,
                412,
                'PreconditionFailed',
                'At least one of the pre-conditions you specified did not hold',
              )
            }
          }
        }
        await forward(req, res, body)
      }).catch(() => {
        if (!res.headersSent) refuse(res, 502, 'BadGateway', 'upstream failed')
        else res.destroy()
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}`,
    counts,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/**
 * One bucket on s3rver behind the conditional proxy for the tests of a file: started before them, stopped after.
 * `connection()` gives the S3 options that reach it (the proxy's endpoint; another endpoint when given).
 */
export function conditionalBucket(bucket: string) {
  let server: S3TestServer
  let proxy: ConditionalProxy
  beforeAll(async () => {
    server = await startS3Server([bucket])
    proxy = await startConditionalProxy(server.endpoint)
  })
  afterAll(async () => {
    await proxy?.stop()
    await server?.stop()
  })
  return {
    connection: (endpoint = proxy.endpoint) => ({
      bucket,
      endpoint,
      region: S3_REGION,
      accessKeyId: S3_ACCESS_KEY,
      secretAccessKey: S3_SECRET_KEY,
    }),
    server: () => server,
    proxy: () => proxy,
  }
}
