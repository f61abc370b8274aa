/**
 * Classification of the S3 and GCS answers the test servers cannot give (throttling, 5xx, wrong region, ACLs
 * disabled, expired tokens), shaped as the SDKs raise them. The real servers' failures are in the contract suite.
 */
import { describe, expect, it } from 'vitest'
import { S3ServiceException } from '@aws-sdk/client-s3'
import { s3DeliveryError } from '../../src/sinks/s3-errors.ts'
import { gcsDeliveryError } from '../../src/sinks/gcs-errors.ts'

const place = { sink: 'pics', bucket: 'thumbs', region: 'eu-west-1' }

function s3Error(name: string, status: number, headers: Record<string, string> = {}): S3ServiceException {
  const error = new S3ServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
    message: name,
  })
  Object.defineProperty(error, '$response', { value: { statusCode: status, headers } })
  return error
}

const verdict = (error: { permanent: boolean; retryAfterMs: number | undefined; message: string }) => ({
  permanent: error.permanent,
  retryAfterMs: error.retryAfterMs,
  message: error.message,
})

describe('S3 errors', () => {
  it('retries throttling, honouring Retry-After, and 5xx', () => {
    expect(verdict(s3DeliveryError(s3Error('SlowDown', 503, { 'retry-after': '3' }), 'write', 'a.jpg', place))).toEqual(
      {
        permanent: false,
        retryAfterMs: 3000,
        message: 'S3 (eu-west-1) is throttling (SlowDown, HTTP 503) on write s3://thumbs/a.jpg; will retry',
      },
    )
    expect(s3DeliveryError(s3Error('TooManyRequests', 429), 'write', 'a.jpg', place).permanent).toBe(false)
    expect(s3DeliveryError(s3Error('InternalError', 500), 'write', 'a.jpg', place).permanent).toBe(false)
    expect(s3DeliveryError(s3Error('RequestTimeout', 400), 'write', 'a.jpg', place).permanent).toBe(false)
    expect(s3DeliveryError(s3Error('ExpiredToken', 400), 'write', 'a.jpg', place).permanent).toBe(false)
  })

  it('says what to fix for what an operator must fix', () => {
    const permanent = (name: string, status: number, operation: 'write' | 'list' | 'delete' = 'write', extra = {}) => {
      const error = s3DeliveryError(s3Error(name, status), operation, 'a.jpg', { ...place, ...extra })
      expect(error.permanent).toBe(true)
      return error.message
    }
    expect(permanent('NoSuchBucket', 404)).toBe(
      'bucket "thumbs" does not exist in region eu-west-1: create it or fix sinks.pics.bucket',
    )
    expect(permanent('AccessDenied', 403, 'write', { acl: 'public-read' })).toBe(
      'access denied to write s3://thumbs/a.jpg: allow s3:PutObject and s3:PutObjectAcl on bucket "thumbs" for these credentials (IAM or bucket policy), or fix the credentials of sinks.pics',
    )
    expect(permanent('AccessDenied', 403, 'list')).toMatch(/allow s3:ListBucket/)
    expect(permanent('SignatureDoesNotMatch', 403)).toMatch(
      /fix AWS_SECRET_ACCESS_KEY or the AWS profile \(or sinks\.pics\.secretAccessKey\)$/,
    )
    expect(permanent('PermanentRedirect', 301)).toBe(
      'bucket "thumbs" is not in region eu-west-1: set sinks.pics.region to the bucket\'s region',
    )
    expect(permanent('AccessControlListNotSupported', 400)).toMatch(/remove sinks\.pics\.acl/)
    expect(permanent('EntityTooLarge', 400)).toBe(
      'S3 (eu-west-1) refused to write s3://thumbs/a.jpg: EntityTooLarge (HTTP 400): EntityTooLarge',
    )
    expect(permanent('KeyTooLongError', 400)).toBe(
      'S3 (eu-west-1) refuses the key s3://thumbs/a.jpg as too long (5 bytes): fix sinks.pics.key',
    )
  })

  it('treats missing credentials as permanent and a dropped connection as transient', () => {
    const missing = Object.assign(new Error('Could not load credentials from any providers'), {
      name: 'CredentialsProviderError',
    })
    expect(verdict(s3DeliveryError(missing, 'write', 'a.jpg', place))).toMatchObject({
      permanent: true,
      message: expect.stringMatching(/^no AWS credentials found: set AWS_ACCESS_KEY_ID/),
    })
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })
    expect(verdict(s3DeliveryError(reset, 'write', 'a.jpg', place))).toEqual({
      permanent: false,
      retryAfterMs: undefined,
      message: 'cannot reach S3 (eu-west-1) to write s3://thumbs/a.jpg: socket hang up; will retry',
    })
  })
})

describe('GCS errors', () => {
  const apiError = (code: number, reason: string, headers: Record<string, string> = {}) =>
    Object.assign(new Error(reason), { code, errors: [{ reason }], response: { headers } })
  const gcsPlace = { sink: 'pics', bucket: 'thumbs' }

  it('retries throttling (429, or 403 for rate limits) and 5xx', () => {
    expect(
      verdict(gcsDeliveryError(apiError(429, 'rateLimitExceeded', { 'retry-after': '2' }), 'write', 'a.jpg', gcsPlace)),
    ).toEqual({
      permanent: false,
      retryAfterMs: 2000,
      message:
        'Google Cloud Storage is throttling writes to gs://thumbs/a.jpg (HTTP 429, rateLimitExceeded); will retry',
    })
    expect(gcsDeliveryError(apiError(403, 'userRateLimitExceeded'), 'write', 'a.jpg', gcsPlace).permanent).toBe(false)
    expect(gcsDeliveryError(apiError(503, 'backendError'), 'write', 'a.jpg', gcsPlace).permanent).toBe(false)
    expect(gcsDeliveryError(apiError(408, 'timeout'), 'write', 'a.jpg', gcsPlace).permanent).toBe(false)
  })

  it('says what to fix when the library found no credentials at all', () => {
    const error = gcsDeliveryError(
      new Error(
        'Could not load the default credentials. Browse to https://cloud.google.com/docs/authentication/getting-started for more information.',
      ),
      'write',
      'a.jpg',
      gcsPlace,
    )
    expect(error.permanent).toBe(true)
    expect(error.message).toMatch(
      /^no Google credentials found: set GOOGLE_APPLICATION_CREDENTIALS or sinks\.pics\.keyFilename/,
    )
  })

  it('names the role a refused operation needs, and refuses other 4xx for good', () => {
    expect(gcsDeliveryError(apiError(403, 'forbidden'), 'delete', 'a.jpg', gcsPlace).message).toMatch(
      /roles\/storage\.objectUser \(storage\.objects\.delete\)/,
    )
    expect(gcsDeliveryError(apiError(400, 'invalid'), 'write', 'a.jpg', gcsPlace).permanent).toBe(true)
  })
})
