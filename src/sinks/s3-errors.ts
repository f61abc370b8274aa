/**
 * S3 failures classified for the spool: what an operator must fix is permanent (dead letters, with a message that
 * says what to fix); throttling, 5xx and network trouble are retried.
 * @module
 */
import { DeliveryError } from '../destinations/types.ts'
import { parseRetryAfter } from '../destinations/failures.ts'
import { byteLength } from '../template/shorten.ts'

export interface S3Place {
  sink: string
  bucket: string
  region: string
  endpoint?: string | undefined
  acl?: string | undefined
}

type S3Operation = 'write' | 'list' | 'delete'

const ACTION: Record<S3Operation, string> = { write: 's3:PutObject', list: 's3:ListBucket', delete: 's3:DeleteObject' }

const THROTTLED = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'RequestThrottled',
  'RequestThrottledException',
])
/** Errors that clear up by themselves: the SDK refreshes expiring role credentials and corrects clock skew. */
const PASSING = new Set([
  'RequestTimeout',
  'RequestTimeoutException',
  'ExpiredToken',
  'ExpiredTokenException',
  'TokenRefreshRequired',
  'RequestTimeTooSkewed',
  'InternalError',
  'ServiceUnavailable',
  'OperationAborted',
])

interface SdkError {
  name?: string
  Code?: string
  message?: string
  $metadata?: { httpStatusCode?: number }
  $response?: { headers?: Record<string, string | undefined> }
}

export function s3DeliveryError(
  error: unknown,
  operation: S3Operation,
  key: string | undefined,
  place: S3Place,
): DeliveryError {
  const e = (error ?? {}) as SdkError
  const code = e.Code ?? e.name ?? 'Error'
  const status = e.$metadata?.httpStatusCode
  const object = `s3://${place.bucket}/${key ?? ''}`
  const service = place.endpoint ?? `S3 (${place.region})`
  const fail = (message: string) => new DeliveryError(message, { permanent: true, cause: error })
  const fix = operatorFix(code, operation, key, place)
  if (fix !== undefined) return fail(fix)

  const retryAfter = parseRetryAfter(e.$response?.headers?.['retry-after'])
  const transient = (message: string) =>
    new DeliveryError(message, { cause: error, ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}) })
  if (THROTTLED.has(code) || status === 429 || status === 503)
    return transient(
      `${service} is throttling (${code}${status ? `, HTTP ${status}` : ''}) on ${operation} ${object}; will retry`,
    )
  if (PASSING.has(code) || status === 408 || status === 409 || (status !== undefined && status >= 500)) {
    return transient(
      `${service} failed to ${operation} ${object}: ${code}${status ? ` (HTTP ${status})` : ''}; will retry`,
    )
  }
  if (status !== undefined && status >= 300) {
    return fail(`${service} refused to ${operation} ${object}: ${code} (HTTP ${status}): ${e.message ?? ''}`.trimEnd())
  }
  // No answer at all: connection refused or reset, DNS, timeout, abort.
  return transient(`cannot reach ${service} to ${operation} ${object}: ${e.message ?? code}; will retry`)
}

/** What the operator must fix, for the errors no retry can clear; undefined for the others. */
function operatorFix(
  code: string,
  operation: S3Operation,
  key: string | undefined,
  place: S3Place,
): string | undefined {
  const object = `s3://${place.bucket}/${key ?? ''}`
  const service = place.endpoint ?? `S3 (${place.region})`
  const where = place.endpoint ? `at ${place.endpoint}` : `in region ${place.region}`
  const sinkPath = `sinks.${place.sink}`
  switch (code) {
    case 'NoSuchBucket':
      return `bucket "${place.bucket}" does not exist ${where}: create it or fix ${sinkPath}.bucket`
    case 'AccessDenied':
    case 'AllAccessDisabled':
    case 'AccountProblem':
    case 'InvalidSecurity':
      return (
        `access denied to ${operation} ${object}: ` +
        `allow ${ACTION[operation]}${operation === 'write' && place.acl ? ' and s3:PutObjectAcl' : ''} ` +
        `on bucket "${place.bucket}" for these credentials (IAM or bucket policy), ` +
        `or fix the credentials of ${sinkPath}`
      )
    case 'InvalidAccessKeyId':
      return (
        `${service} does not know the access key id: ` +
        `fix AWS_ACCESS_KEY_ID or the AWS profile (or ${sinkPath}.accessKeyId)`
      )
    case 'SignatureDoesNotMatch':
      return (
        `${service} rejected the request signature: the secret access key does not belong to the access key id; ` +
        `fix AWS_SECRET_ACCESS_KEY or the AWS profile (or ${sinkPath}.secretAccessKey)`
      )
    case 'CredentialsProviderError':
      return (
        'no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with an IAM ' +
        `role; or set ${sinkPath}.accessKeyId and secretAccessKey from the environment`
      )
    case 'PermanentRedirect':
    case 'AuthorizationHeaderMalformed':
    case 'IllegalLocationConstraintException':
      return `bucket "${place.bucket}" is not in region ${place.region}: set ${sinkPath}.region to the bucket's region`
    case 'InvalidBucketName':
      return `"${place.bucket}" is not a valid bucket name: fix ${sinkPath}.bucket`
    case 'AccessControlListNotSupported':
      return (
        `bucket "${place.bucket}" has ACLs disabled (object ownership: bucket owner enforced): ` +
        `remove ${sinkPath}.acl and make objects public with a bucket policy instead`
      )
    case 'KeyTooLongError':
      return `${service} refuses the key ${object} as too long (${byteLength(key ?? '')} bytes): fix ${sinkPath}.key`
    case 'InvalidStorageClass':
      return `${service} does not offer this storage class: fix or remove ${sinkPath}.storageClass`
  }
  return undefined
}
