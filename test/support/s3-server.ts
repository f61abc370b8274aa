/**
 * A real S3 API for tests: s3rver on 127.0.0.1 on a free port, storing under a temp dir, and clients for it.
 *
 * s3rver knows one account: access key `S3RVER`, secret `S3RVER`. It refuses unknown access keys
 * (InvalidAccessKeyId) and missing buckets (NoSuchBucket) as S3 does, but does not check SigV4 signatures.
 * Its writes are made atomic here, as S3's are (see makePutsAtomic).
 */
import { createRequire } from 'node:module'
import { createHash } from 'node:crypto'
import { mkdir, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import {
  S3Client,
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
} from '@aws-sdk/client-s3'
import { tempDir } from './files.ts'

export const S3_ACCESS_KEY = 'S3RVER'
export const S3_SECRET_KEY = 'S3RVER'
export const S3_REGION = 'us-east-1'

interface StoredObjectInput {
  bucket: string
  key: string
  metadata: Record<string, string>
  content: Buffer | AsyncIterable<Buffer>
}
interface FilesystemStore {
  getResourcePath(bucket: string, key: string, resource: string): string
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5: string): Promise<void>
  putObject(object: StoredObjectInput): Promise<{ size: number; md5: string }>
}
interface S3rver {
  store: FilesystemStore
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
  makePutsAtomic(server.store)
  const { port } = await server.run()
  const endpoint = `http://127.0.0.1:${port}`
  const client = (credentials = { accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY }) =>
    new S3Client({
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
        const page = await admin.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
        )
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

/**
 * s3rver answers a PUT, and shows the object, once its hashing stream ends, while the file may still be filling
 * (a reader then gets a truncated body), and writes the metadata after the content (a reader then gets a new object
 * without its content type and metadata). S3 never shows part of an object. Here the metadata is written first,
 * then the content goes to a temp file that is renamed into place: the content file is what makes an object exist.
 */
function makePutsAtomic(store: FilesystemStore): void {
  let counter = 0
  store.putObject = async (object) => {
    const chunks: Buffer[] = []
    if (Buffer.isBuffer(object.content)) chunks.push(object.content)
    else for await (const chunk of object.content) chunks.push(chunk)
    const content = Buffer.concat(chunks)
    const path = store.getResourcePath(object.bucket, object.key, 'object')
    const temp = `${path}.partial-${++counter}` // not an object to s3rver: its names end in ._S3rver_object
    const md5 = createHash('md5').update(content).digest('hex')
    await mkdir(dirname(path), { recursive: true })
    await store.putMetadata(object.bucket, object.key, object.metadata, md5)
    await writeFile(temp, content)
    await rename(temp, path)
    return { size: content.length, md5 }
  }
}
