/**
 * The Lambda handler with an admin token on an S3 spool, two cold starts (two instances behind one Function URL):
 * a session made on one is honoured by the other, signing out on one ends it on both, and the sign-in failure limit
 * counts the guesses made on both. s3rver behind the conditional proxy of the S3 queue's tests.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { createLambda } from '../../adapters/lambda.ts'
import { silentLogger } from '../../src/log.ts'
import { SECRET } from '../support/hooks.ts'
import { tempDir } from '../support/files.ts'
import { S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY } from '../support/s3-server.ts'
import { conditionalBucket } from '../backends/s3/conditional-proxy.ts'
import { lambdaContext } from './events.ts'

const BUCKET = 'lambda-sessions'
const TOKEN = 'admin-token-of-the-test-0123456789'
const HOST = 'abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws'
const s3 = conditionalBucket(BUCKET)
const dir = tempDir('hookcast-lambda-sessions-')
let lambdas: Array<ReturnType<typeof createLambda>> = []
let prefixes = 0

afterEach(async () => {
  await Promise.all(lambdas.map((lambda) => lambda.close()))
  lambdas = []
})
afterAll(() => dir.remove())

/** Two cold starts of one deployment (one spool prefix). */
function pair(): [Invoke, Invoke] {
  const config = `
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
sinks:
  disk: { type: fs, dir: "${join(dir.path, 'data')}" }
routes:
  - to: [disk]
spool: { type: s3, bucket: ${BUCKET}, endpoint: "${s3.proxy().endpoint}", region: ${S3_REGION}, accessKeyId: ${S3_ACCESS_KEY}, secretAccessKey: ${S3_SECRET_KEY}, prefix: spool${prefixes++} }
admin: { token: ${TOKEN} }
`
  const start = () => {
    const lambda = createLambda({ HOOKCAST_CONFIG_YAML: config }, { log: silentLogger })
    lambdas.push(lambda)
    return (event: unknown) =>
      lambda.handler(event as Parameters<typeof lambda.handler>[0], lambdaContext(30_000)) as Promise<Answer>
  }
  return [start(), start()]
}

type Invoke = (event: unknown) => Promise<Answer>
interface Answer {
  statusCode: number
  headers?: Record<string, string>
  cookies?: string[]
}

const ADDRESS = '198.51.100.40'

/** A Function URL event (payload format 2.0) for the page: cookies apart from the headers, as AWS sends them. */
function pageEvent(
  method: string,
  path: string,
  options: { cookie?: string; form?: Record<string, string>; address?: string; headers?: Record<string, string> } = {},
) {
  const sourceIp = options.address ?? ADDRESS
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    ...(options.cookie ? { cookies: [options.cookie] } : {}),
    headers: {
      host: HOST,
      'x-forwarded-proto': 'https',
      'x-forwarded-for': sourceIp,
      ...(options.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      ...options.headers,
    },
    requestContext: {
      accountId: 'anonymous',
      domainName: HOST,
      http: { method, path, protocol: 'HTTP/1.1', sourceIp, userAgent: 'browser' },
      requestId: crypto.randomUUID(),
      routeKey: '$default',
      stage: '$default',
      timeEpoch: Date.now(),
    },
    ...(options.form ? { body: new URLSearchParams(options.form).toString() } : {}),
    isBase64Encoded: false,
  }
}

const signIn = (invoke: Invoke, token = TOKEN, address = ADDRESS) =>
  invoke(pageEvent('POST', '/login', { form: { token }, address }))
const cookieOf = (answer: Answer) => {
  expect(answer.statusCode).toBe(303)
  const cookie = [...(answer.cookies ?? []), answer.headers?.['set-cookie'] ?? ''].find((c) =>
    c.startsWith('hookcast_admin='),
  )
  return cookie!.split(';')[0]!
}
const streams = async (invoke: Invoke, options: { cookie?: string; headers?: Record<string, string> }) =>
  (await invoke(pageEvent('GET', '/api/streams', options))).statusCode

describe('page sessions on Lambda with an S3 spool, two instances', () => {
  it('a session made on one instance is honoured by the other, and signing out on one ends it on both', async () => {
    const [a, b] = pair()
    const cookie = cookieOf(await signIn(a))
    expect(await streams(b, { cookie })).toBe(200)
    expect(await streams(a, { cookie })).toBe(200)
    expect((await b(pageEvent('POST', '/logout', { cookie }))).statusCode).toBe(303)
    expect(await streams(a, { cookie })).toBe(401)
    expect(await streams(b, { cookie })).toBe(401)
  }, 60_000)

  it('counts wrong tokens made on either instance against one limit: the 11th is refused, even when right', async () => {
    const [a, b] = pair()
    for (let i = 0; i < 5; i++) expect((await signIn(a, 'wrong-guess')).statusCode).toBe(401)
    for (let i = 0; i < 5; i++) expect(await streams(b, { headers: { authorization: 'Bearer wrong-guess' } })).toBe(401)
    expect((await signIn(a)).statusCode).toBe(429)
    expect(await streams(b, { headers: { authorization: `Bearer ${TOKEN}` } })).toBe(429)
    expect((await signIn(b, TOKEN, '198.51.100.41')).statusCode).toBe(303) // another client is not affected
  }, 60_000)
})
