/**
 * Google Cloud Storage failures classified for the spool: what an operator must fix is permanent (dead letters,
 * with a message that says what to fix); throttling, 5xx and network trouble are retried.
 * @module
 */
import { DeliveryError } from '../destinations/types.ts'
import { parseRetryAfter } from '../destinations/failures.ts'

export interface GcsPlace {
  sink: string
  bucket: string
  keyFilename?: string | undefined
}

type GcsOperation = 'write' | 'list' | 'delete'

/** roles/storage.objectUser has all three; objectCreator alone cannot overwrite, which every redelivery does. */
const ROLE: Record<GcsOperation, string> = {
  write: 'roles/storage.objectUser (storage.objects.create, and storage.objects.delete to overwrite)',
  list: 'roles/storage.objectUser (storage.objects.list)',
  delete: 'roles/storage.objectUser (storage.objects.delete)',
}

/** 403 reasons that mean "slow down", not "not allowed". */
const RATE_LIMITED = new Set(['rateLimitExceeded', 'userRateLimitExceeded', 'quotaExceeded'])

interface LibraryError {
  /** An HTTP status (ApiError) or a system error code (ENOENT, ECONNREFUSED). */
  code?: number | string
  status?: number
  message?: string
  errors?: { reason?: string }[]
  response?: { status?: number; headers?: Record<string, string | undefined> | { get?(name: string): string | null } }
  path?: string
}

export function gcsDeliveryError(
  error: unknown,
  operation: GcsOperation,
  key: string | undefined,
  place: GcsPlace,
): DeliveryError {
  const e = (error ?? {}) as LibraryError
  const status = typeof e.code === 'number' ? e.code : (e.status ?? e.response?.status)
  const message = e.message ?? String(error)
  const object = `gs://${place.bucket}/${key ?? ''}`
  const sinkPath = `sinks.${place.sink}`
  const fail = (text: string) => new DeliveryError(text, { permanent: true, cause: error })

  // Credential trouble found before any request is sent.
  if (/could not load the default credentials/i.test(message)) {
    return fail(
      `no Google credentials found: set GOOGLE_APPLICATION_CREDENTIALS or ${sinkPath}.keyFilename to a service ` +
        'account key file, run on Google Cloud with a service account, or run "gcloud auth application-default login"',
    )
  }
  if ((e.code === 'ENOENT' || e.code === 'EACCES' || e.code === 'EISDIR') && e.path !== undefined) {
    return fail(`cannot read the key file ${e.path}: fix ${sinkPath}.keyFilename or GOOGLE_APPLICATION_CREDENTIALS`)
  }
  if (/client_email|private_key|Unexpected token|is not valid JSON/i.test(message) && status === undefined) {
    return fail(
      `the Google key file is not a service account key: fix ${sinkPath}.keyFilename or ` +
        `GOOGLE_APPLICATION_CREDENTIALS (${message})`,
    )
  }

  const reason = e.errors?.[0]?.reason
  if (status === 401 && /anonymous caller/i.test(message)) {
    return fail(
      'Google Cloud Storage got a request without credentials (401): set GOOGLE_APPLICATION_CREDENTIALS or ' +
        `${sinkPath}.keyFilename to a service account key file, or run with a service account`,
    )
  }
  if (status === 401) {
    return fail(
      'Google Cloud Storage rejected the credentials (401): fix GOOGLE_APPLICATION_CREDENTIALS or ' +
        `${sinkPath}.keyFilename (the key may be deleted or disabled)`,
    )
  }
  if (status === 403 && !RATE_LIMITED.has(reason ?? '')) {
    return fail(
      `access denied to ${operation} ${object} (403): grant the service account ${ROLE[operation]} ` +
        `on bucket "${place.bucket}", or fix ${sinkPath}.bucket`,
    )
  }
  if (status === 404) {
    return fail(`bucket "${place.bucket}" does not exist (404): create it or fix ${sinkPath}.bucket`)
  }

  const header = readHeader(e.response?.headers, 'retry-after')
  const retryAfter = parseRetryAfter(header)
  const transient = (text: string) =>
    new DeliveryError(text, { cause: error, ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}) })
  if (status === 429 || status === 403)
    return transient(
      `Google Cloud Storage is throttling ${operation}s to ${object} ` +
        `(HTTP ${status}${reason ? `, ${reason}` : ''}); will retry`,
    )
  if (status === 408 || status === 409 || (status !== undefined && status >= 500)) {
    return transient(`Google Cloud Storage failed to ${operation} ${object} (HTTP ${status}); will retry`)
  }
  if (status !== undefined && status >= 400)
    return fail(`Google Cloud Storage refused to ${operation} ${object} (HTTP ${status}): ${message}`)
  // No answer at all: connection refused or reset, DNS, timeout.
  return transient(`cannot reach Google Cloud Storage to ${operation} ${object}: ${message}; will retry`)
}

function readHeader(headers: NonNullable<LibraryError['response']>['headers'], name: string): string | undefined {
  if (!headers) return undefined
  if (typeof (headers as { get?: unknown }).get === 'function')
    return (headers as { get(n: string): string | null }).get(name) ?? undefined
  return (headers as Record<string, string | undefined>)[name]
}
