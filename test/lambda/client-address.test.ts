/**
 * The client address the Lambda entry keys per-client limits by (adapters/lambda/http-events.ts `clientAddressOf`),
 * seen through the limit on wrong admin tokens: behind an ALB it is the last X-Forwarded-For entry (the one the ALB
 * appended), so a client cannot escape its count by sending other addresses before it, nor put another client
 * over the limit by naming it; through a Function URL it is the connection's peer, whatever the header says.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { createLambda } from '../../adapters/lambda.ts'
import { silentLogger } from '../../src/log.ts'
import { MAX_FAILURES } from '../../src/admin/rate-limit.ts'
import { SECRET } from '../support/hooks.ts'
import { tempDir } from '../support/files.ts'
import { lambdaContext } from './events.ts'

const TOKEN = 'admin-token-for-client-address-tests'
const TARGET_GROUP = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/hookcast/49e9d65c45c6791a'

let cleanup: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const step of cleanup.reverse()) await step()
  cleanup = []
})

function start() {
  const dir = tempDir('hookcast-lambda-client-')
  const lambda = createLambda(
    {
      HOOKCAST_CONFIG_YAML: `
sources:
  millicast: { path: /hooks/millicast, secrets: ["${SECRET}"] }
spool: { dir: "${join(dir.path, 'spool')}" }
admin: { token: ${TOKEN} }
`,
    },
    { log: silentLogger },
  )
  cleanup.push(async () => {
    await lambda.close()
    dir.remove()
  })
  return async (event: unknown) => {
    const result = await lambda.handler(event as Parameters<typeof lambda.handler>[0], lambdaContext(30_000))
    return (result as { statusCode: number }).statusCode
  }
}

/** A GET of the admin API as an Application Load Balancer hands it over (multi-value headers off). */
function albGet(forwardedFor: string, token: string) {
  return {
    requestContext: { elb: { targetGroupArn: TARGET_GROUP } },
    httpMethod: 'GET',
    path: '/api/streams',
    queryStringParameters: {},
    headers: {
      host: 'hookcast-123578498.us-east-1.elb.amazonaws.com',
      authorization: `Bearer ${token}`,
      'x-forwarded-for': forwardedFor,
      'x-forwarded-port': '443',
      'x-forwarded-proto': 'https',
    },
    body: '',
    isBase64Encoded: false,
  }
}

/** The same GET through a Function URL (payload format 2.0): the peer is `requestContext.http.sourceIp`. */
function functionUrlGet(sourceIp: string, forwardedFor: string, token: string) {
  const host = 'abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws'
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/api/streams',
    rawQueryString: '',
    headers: { host, authorization: `Bearer ${token}`, 'x-forwarded-for': forwardedFor, 'x-forwarded-proto': 'https' },
    requestContext: {
      accountId: 'anonymous',
      apiId: 'abcdefghijklmnopqrstuvwxyz012345',
      domainName: host,
      domainPrefix: 'abcdefghijklmnopqrstuvwxyz012345',
      http: { method: 'GET', path: '/api/streams', protocol: 'HTTP/1.1', sourceIp, userAgent: 'curl/8' },
      requestId: crypto.randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: '12/Mar/2020:19:03:58 +0000',
      timeEpoch: 1583348638390,
    },
    isBase64Encoded: false,
  }
}

describe('the client address behind an ALB, for per-client limits', () => {
  it('is the entry the ALB appended to X-Forwarded-For, not what the client sent before it', async () => {
    const invoke = start()
    const guesser = '203.0.113.50'
    const bystander = '198.51.100.20'
    expect(await invoke(albGet(bystander, TOKEN))).toBe(200)
    // A guesser that sends a new address of its own each time: the ALB's entry still names it.
    for (let i = 0; i < MAX_FAILURES; i++) {
      expect(await invoke(albGet(`10.0.${i}.1, 192.0.2.${i + 1}, ${guesser}`, `wrong-${i}`))).toBe(401)
    }
    expect(await invoke(albGet(`10.9.9.9, ${guesser}`, TOKEN))).toBe(429)
    expect(await invoke(albGet(guesser, TOKEN))).toBe(429)
    // Another client that names the blocked address before its own is judged by its own.
    expect(await invoke(albGet(`${guesser}, ${bystander}`, TOKEN))).toBe(200)
  })

  it("through a Function URL is the connection's peer, whatever X-Forwarded-For says", async () => {
    const invoke = start()
    const guesser = '203.0.113.60'
    for (let i = 0; i < MAX_FAILURES; i++) {
      expect(await invoke(functionUrlGet(guesser, `192.0.2.${i + 1}`, `wrong-${i}`))).toBe(401)
    }
    expect(await invoke(functionUrlGet(guesser, '198.51.100.99', TOKEN))).toBe(429)
    expect(await invoke(functionUrlGet('198.51.100.21', guesser, TOKEN))).toBe(200)
  })
})
