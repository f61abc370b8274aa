/**
 * Lambda events as AWS documents them, carrying a signed hook: a Function URL and an API Gateway HTTP API (payload
 * format 2.0), a REST API (proxy integration, with and without binary media types), an Application Load Balancer, and
 * an EventBridge schedule; and a Lambda context with the time the function has left.
 *
 * The shapes follow the AWS Lambda Developer Guide ("Invoking Lambda function URLs": request payload; "Using Lambda
 * with API Gateway": REST API proxy event; "Working with HTTP APIs": payload format 2.0; "Lambda functions as
 * targets" of an ALB; "EventBridge Scheduler/rules": scheduled event). How each encodes a body:
 * - Function URL and HTTP API: text for `text/*` and `application/json`, base64 for anything else (a JPEG);
 * - REST API: base64 when the content type is one of the API's binary media types, else the body as text, its
 *   bytes decoded as UTF-8 (a JPEG is mangled: bytes that are not UTF-8 become U+FFFD);
 * - ALB: base64 for binary content, text otherwise.
 */
import type { SignedHook } from '../support/hooks.ts'

const ACCOUNT = '123456789012'
const TIME = '12/Mar/2020:19:03:58 +0000'
const TIME_EPOCH = 1583348638390
const SOURCE_IP = '198.51.100.7'

const isText = (contentType: string | undefined) => /^(text\/|application\/json)/i.test(contentType ?? '')
const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64')
const utf8Text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

/** Payload format 2.0 as a Function URL sends it (auth type NONE). */
export function functionUrlEvent(path: string, hook: SignedHook) {
  const host = 'abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws'
  const text = isText(hook.headers['content-type'])
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers: {
      'content-length': String(hook.body.byteLength),
      'x-amzn-tls-version': 'TLSv1.3',
      'x-forwarded-proto': 'https',
      'x-forwarded-port': '443',
      'x-forwarded-for': SOURCE_IP,
      'x-amzn-tls-cipher-suite': 'TLS_AES_128_GCM_SHA256',
      'x-amzn-trace-id': 'Root=1-62ecd163-5f302e550dcde3b12402207d',
      host,
      'user-agent': 'Millicast-Webhooks',
      ...lowerCased(hook.headers),
    },
    requestContext: {
      accountId: 'anonymous',
      apiId: 'abcdefghijklmnopqrstuvwxyz012345',
      domainName: host,
      domainPrefix: 'abcdefghijklmnopqrstuvwxyz012345',
      http: { method: 'POST', path, protocol: 'HTTP/1.1', sourceIp: SOURCE_IP, userAgent: 'Millicast-Webhooks' },
      requestId: 'f6a1b7c2-3d4e-4f50-8a9b-0c1d2e3f4a5b',
      routeKey: '$default',
      stage: '$default',
      time: TIME,
      timeEpoch: TIME_EPOCH,
    },
    body: text ? utf8Text(hook.body) : base64(hook.body),
    isBase64Encoded: !text,
  }
}

/** Payload format 2.0 as an API Gateway HTTP API sends it (route `POST <path>`, default stage). */
export function httpApiEvent(path: string, hook: SignedHook) {
  const host = 'r3pmxmplak.execute-api.us-east-1.amazonaws.com'
  const text = isText(hook.headers['content-type'])
  return {
    version: '2.0',
    routeKey: `POST ${path}`,
    rawPath: path,
    rawQueryString: '',
    headers: {
      'content-length': String(hook.body.byteLength),
      host,
      'user-agent': 'Millicast-Webhooks',
      'x-amzn-trace-id': 'Root=1-5e6722a7-cc56xmpl46db7ae02d4da47e',
      'x-forwarded-for': SOURCE_IP,
      'x-forwarded-port': '443',
      'x-forwarded-proto': 'https',
      ...lowerCased(hook.headers),
    },
    requestContext: {
      accountId: ACCOUNT,
      apiId: 'r3pmxmplak',
      domainName: host,
      domainPrefix: 'r3pmxmplak',
      http: { method: 'POST', path, protocol: 'HTTP/1.1', sourceIp: SOURCE_IP, userAgent: 'Millicast-Webhooks' },
      requestId: 'JKJaXmPLvHcESHA=',
      routeKey: `POST ${path}`,
      stage: '$default',
      time: TIME,
      timeEpoch: TIME_EPOCH,
    },
    body: text ? utf8Text(hook.body) : base64(hook.body),
    isBase64Encoded: !text,
  }
}

/**
 * A REST API proxy event (stage `prod`). `binaryMediaTypes` are the API's: a content type among them arrives base64,
 * any other as text. Header names keep the client's case (the platform's docs write them capitalised).
 */
export function restApiEvent(path: string, hook: SignedHook, binaryMediaTypes: string[]) {
  const host = '1234567890.execute-api.us-east-1.amazonaws.com'
  const contentType = hook.headers['content-type'] ?? ''
  const binary = binaryMediaTypes.some(
    (type) => type === '*/*' || type.toLowerCase() === contentType.split(';')[0]!.trim().toLowerCase(),
  )
  const headers: Record<string, string> = {
    'Content-Length': String(hook.body.byteLength),
    Host: host,
    'User-Agent': 'Millicast-Webhooks',
    'X-Amzn-Trace-Id': 'Root=1-5e66d96f-7491f09xmpl79d18acf3d050',
    'X-Forwarded-For': SOURCE_IP,
    'X-Forwarded-Port': '443',
    'X-Forwarded-Proto': 'https',
    ...capitalised(hook.headers),
  }
  return {
    resource: path,
    path,
    httpMethod: 'POST',
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]])),
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    requestContext: {
      accountId: ACCOUNT,
      apiId: '1234567890',
      domainName: host,
      domainPrefix: '1234567890',
      extendedRequestId: 'LgQUtE7xIAMFjxA=',
      httpMethod: 'POST',
      identity: {
        accessKey: null,
        accountId: null,
        caller: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: SOURCE_IP,
        user: null,
        userAgent: 'Millicast-Webhooks',
        userArn: null,
        clientCert: null,
      },
      path: `/prod${path}`,
      protocol: 'HTTP/1.1',
      requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
      requestTime: TIME,
      requestTimeEpoch: TIME_EPOCH,
      resourceId: '123456',
      resourcePath: path,
      stage: 'prod',
    },
    body: binary ? base64(hook.body) : utf8Text(hook.body),
    isBase64Encoded: binary,
  }
}

/** An Application Load Balancer event (multi-value headers off). */
export function albEvent(path: string, hook: SignedHook) {
  const text = isText(hook.headers['content-type'])
  return {
    requestContext: {
      elb: {
        targetGroupArn: `arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT}:targetgroup/hookcast/49e9d65c45c6791a`,
      },
    },
    httpMethod: 'POST',
    path,
    queryStringParameters: {},
    headers: {
      'content-length': String(hook.body.byteLength),
      host: 'hookcast-123578498.us-east-1.elb.amazonaws.com',
      'user-agent': 'Millicast-Webhooks',
      'x-amzn-trace-id': 'Root=1-5c536348-3d683b8b04734faae651f476',
      'x-forwarded-for': `203.0.113.9, ${SOURCE_IP}`,
      'x-forwarded-port': '443',
      'x-forwarded-proto': 'https',
      ...lowerCased(hook.headers),
    },
    body: text ? utf8Text(hook.body) : base64(hook.body),
    isBase64Encoded: !text,
  }
}

/** An EventBridge scheduled event (a `rate(1 minute)` rule). */
export function scheduleEvent() {
  return {
    version: '0',
    id: '53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa',
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: ACCOUNT,
    time: '2026-03-12T19:04:00Z',
    region: 'us-east-1',
    resources: [`arn:aws:events:us-east-1:${ACCOUNT}:rule/hookcast-redrive`],
    detail: {},
  }
}

/** A Lambda context whose function has `remainingMs` left from now. */
export function lambdaContext(remainingMs: number) {
  const end = Date.now() + remainingMs
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'hookcast',
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:hookcast`,
    memoryLimitInMB: '512',
    awsRequestId: crypto.randomUUID(),
    logGroupName: '/aws/lambda/hookcast',
    logStreamName: '2026/03/12/[$LATEST]abcdef0123456789',
    getRemainingTimeInMillis: () => Math.max(0, end - Date.now()),
  }
}

function lowerCased(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]))
}

/** `x-millicast-feed-id` -> `X-Millicast-Feed-Id`. */
function capitalised(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [
      name.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase()),
      value,
    ]),
  )
}
