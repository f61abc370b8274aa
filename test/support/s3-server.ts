/**
 * A real S3 API for tests: s3rver on 127.0.0.1 on a free port, storing under a temp dir, and clients for it.
 *
 * s3rver knows one account: access key `S3RVER`, secret `S3RVER`. It refuses unknown access keys
 * (InvalidAccessKeyId) and missing buckets (NoSuchBucket) as S3 does, but does not check SigV4 signatures.
 */
import { createRequire } from 'node:module'
import { S3Client, CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3'
import { tempDir } from './files.ts'

export const S3_ACCESS_KEY = 'S3RVER'
export const S3_SECRET_KEY = 'S3RVER'
export const S3_REGION = 'us-east-1'

interface S3rver {
  run(): Promise<{ port: number }>
  close(): Promise<void>
}
type S3rverConstructor = new (options: {
  address: string
  port: number
  silent: boolean
  directory: string
  configureBuckets: { name: string }[]
}) => S3rver
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor

export interface StoredS3Object {
  body: Uint8Array
  contentType: string | undefined
  contentEncoding: string | undefined
  metadata: Record<string, string>
  storageClass: string | undefined
}

export interface S3TestServer {
  endpoint: string
  /** A client for the server, with the account's keys unless others are given. */
  client(credentials?: { accessKeyId: string; secretAccessKey: string }): S3Client
  createBucket(name: string): Promise<void>
  /** The object with its headers, or undefined when there is none. */
  get(bucket: string, key: string): Promise<StoredS3Object | undefined>
  /** Keys under `prefix`, sorted. */
  list(bucket: string, prefix?: string): Promise<string[]>
  stop(): Promise<void>
}

export async function startS3Server(buckets: string[] = []): Promise<S3TestServer> {
  const dir = tempDir('hookcast-s3rver-')
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: dir.path,
    configureBuckets: buckets.map((name) => ({ name })),
  })
  const { port } = await server.run()
  const endpoint = `http://127.0.0.1:${port}`
  const client = (credentials = { accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY }) => new S3Client({
    region: S3_REGION,
    endpoint,
    forcePathStyle: true,
    credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  })
  const admin = client()
  return {
    endpoint,
    client,
    async createBucket(name) {
      await admin.send(new CreateBucketCommand({ Bucket: name }))
    },
    async get(bucket, key) {
      try {
        const object = await admin.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
        // GetObject does not return the storage class of STANDARD objects; HEAD does the same, so ask HEAD.
        const head = await admin.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
        return {
          body: await object.Body!.transformToByteArray(),
          contentType: object.ContentType,
          contentEncoding: object.ContentEncoding,
          metadata: object.Metadata ?? {},
          storageClass: head.StorageClass,
        }
      } catch (error) {
        if ((error as { name?: string }).name === 'NoSuchKey') return undefined
        throw error
      }
    },
    async list(bucket, prefix = '') {
      const keys: string[] = []
      let token: string | undefined
      do {
        const page = await admin.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }))
        keys.push(...(page.Contents ?? []).map((item) => item.Key!))
        token = page.IsTruncated ? page.NextContinuationToken : undefined
      } while (token)
      return keys.sort()
    },
    async stop() {
      admin.destroy()
      await server.close()
      dir.remove()
    },
  }
}
