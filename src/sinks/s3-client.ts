/**
 * The S3 client, built from the connection settings the s3 sink and the S3 backend share (config/s3-sink.ts). The
 * SDK is large, so it is loaded on first use: a gateway with neither pays nothing for it.
 * @module
 */
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3'

type Sdk = typeof import('@aws-sdk/client-s3')

/** Where a bucket is and how to reach it. */
export interface S3Connection {
  bucket: string
  /** The bucket's region; optional with an `endpoint`. Default us-east-1. */
  region?: string | undefined
  /** An S3-compatible store (`http://127.0.0.1:9000`). */
  endpoint?: string | undefined
  /** `bucket` in the path; defaults to true with an `endpoint`. */
  forcePathStyle?: boolean | undefined
  profile?: string | undefined
  accessKeyId?: string | undefined
  secretAccessKey?: string | undefined
  /** One request (its retries included) gives up after this long, ms. Default 10 s. */
  requestTimeoutMs?: number | undefined
}

export interface LazyS3Client {
  /** The SDK and the client, loaded and built on the first call; a failed load is tried again at the next. */
  get(): Promise<{ sdk: Sdk; s3: S3Client }>
  /** Destroys the client, if it was built. */
  close(): Promise<void>
}

export function lazyS3Client(connection: S3Connection): LazyS3Client {
  let loading: Promise<{ sdk: Sdk; s3: S3Client }> | undefined
  return {
    get() {
      loading ??= import('@aws-sdk/client-s3')
        .then((sdk) => ({ sdk, s3: new sdk.S3Client(clientConfig(connection)) }))
        .catch((error) => {
          loading = undefined
          throw error
        })
      return loading
    },
    async close() {
      if (loading) (await loading.catch(() => undefined))?.s3.destroy()
    },
  }
}

function clientConfig(connection: S3Connection): S3ClientConfig {
  const timeout = connection.requestTimeoutMs ?? 10_000
  return {
    region: connection.region ?? 'us-east-1',
    ...(connection.endpoint ? { endpoint: connection.endpoint } : {}),
    forcePathStyle: connection.forcePathStyle ?? connection.endpoint !== undefined,
    ...(connection.profile ? { profile: connection.profile } : {}),
    ...(connection.accessKeyId && connection.secretAccessKey
      ? { credentials: { accessKeyId: connection.accessKeyId, secretAccessKey: connection.secretAccessKey } }
      : {}),
    // Bodies are sent as they are: no trailing CRC checksums, which S3-compatible stores often reject.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      connectionTimeout: Math.min(5_000, timeout),
      requestTimeout: timeout,
      throwOnRequestTimeout: true,
    },
  }
}
