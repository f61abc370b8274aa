/**
 * The few S3 operations the S3 backend is built on, with conditional requests as values: a write or delete whose
 * precondition fails resolves `'conflict'` instead of throwing. AWS S3 creates only when absent (`If-None-Match: *`)
 * since August 2024, replaces only a version (`If-Match`) since November 2024 and deletes only a version since
 * September 2025 (general purpose buckets). Stores that ignore the headers (s3rver, older MinIO) make every condition
 * hold: {@link probeConditionalRequests} finds out.
 * @module
 */
import { sleep } from '../../util/sleep.ts'
import { lazyS3Client, type LazyS3Client, type S3Connection } from '../../sinks/s3-client.ts'

interface StoredObject {
  body: Uint8Array
  etag: string
  /** Epoch ms. */
  lastModified: number
}

export interface ListedObject {
  key: string
  etag: string
  size: number
  /** Epoch ms. */
  lastModified: number
}

type Condition = { ifMatch: string } | { ifNoneMatch: '*' }

export interface Objects {
  readonly bucket: string
  /** The object, or undefined when there is none. `range` reads only its first bytes. */
  get(key: string, range?: { bytes: number }): Promise<StoredObject | undefined>
  /**
   * Writes the object; resolves its new ETag, or `'conflict'` when `condition` did not hold. A write can land and
   * still be answered with an error (a 5xx the SDK retries; the retry then fails its condition on the write
   * itself): callers that must know look at what is stored.
   */
  put(key: string, body: Uint8Array, condition?: Condition): Promise<string | 'conflict'>
  /**
   * Deletes the object (only the version `ifMatch`, when given): `'conflict'` when another version is current,
   * `'missing'` when there is none (someone deleted it, or this delete landed and was retried after a 5xx).
   */
  delete(key: string, ifMatch?: string): Promise<'deleted' | 'missing' | 'conflict'>
  /** Every object under `prefix`, in key order. */
  list(prefix: string): AsyncGenerator<ListedObject>
  close(): void
}

/** Tries of a conditional request that S3 answered 409 ConditionalRequestConflict. */
const CONFLICT_TRIES = 4

interface SdkError {
  name?: string
  Code?: string
  $metadata?: { httpStatusCode?: number }
}

function isPreconditionFailed(error: unknown): boolean {
  const e = (error ?? {}) as SdkError
  return e.$metadata?.httpStatusCode === 412 || (e.Code ?? e.name) === 'PreconditionFailed'
}

function isConditionalConflict(error: unknown): boolean {
  const e = (error ?? {}) as SdkError
  return e.$metadata?.httpStatusCode === 409 && (e.Code ?? e.name) === 'ConditionalRequestConflict'
}

/** No such object (a missing bucket is a 404 too, and an error). */
function isNotFound(error: unknown): boolean {
  const e = (error ?? {}) as SdkError
  const code = e.Code ?? e.name
  return code === 'NoSuchKey' || (e.$metadata?.httpStatusCode === 404 && code !== 'NoSuchBucket')
}

/** ETags are compared as S3 sends them in headers: quoted. Listings of some stores leave the quotes out. */
function quoteEtag(etag: string): string {
  return etag.startsWith('"') ? etag : `"${etag}"`
}

/** Every object under `prefix`, in key order, in one array. */
export async function listAll(objects: Objects, prefix: string): Promise<ListedObject[]> {
  const out: ListedObject[] = []
  for await (const object of objects.list(prefix)) out.push(object)
  return out
}

/** What the operations below share: the bucket's name and its client. */
interface Bucket {
  name: string
  client: LazyS3Client
}

export function s3Objects(connection: S3Connection): Objects {
  if (!connection.bucket) throw new Error('[s3] a bucket is required')
  if ((connection.accessKeyId === undefined) !== (connection.secretAccessKey === undefined)) {
    throw new Error('[s3] accessKeyId and secretAccessKey go together')
  }
  const bucket: Bucket = { name: connection.bucket, client: lazyS3Client(connection) }
  return {
    bucket: bucket.name,
    get: (key, range) => getObject(bucket, key, range),
    put: (key, body, condition) => putObject(bucket, key, body, condition),
    delete: (key, ifMatch) => deleteObject(bucket, key, ifMatch),
    list: (prefix) => listObjects(bucket, prefix),
    close() {
      void bucket.client.close()
    },
  }
}

async function getObject(bucket: Bucket, key: string, range?: { bytes: number }): Promise<StoredObject | undefined> {
  const { sdk, s3 } = await bucket.client.get()
  try {
    const out = await s3.send(
      new sdk.GetObjectCommand({
        Bucket: bucket.name,
        Key: key,
        ...(range ? { Range: `bytes=0-${range.bytes - 1}` } : {}),
      }),
    )
    return {
      body: await out.Body!.transformToByteArray(),
      etag: quoteEtag(out.ETag ?? ''),
      lastModified: out.LastModified?.getTime() ?? 0,
    }
  } catch (error) {
    if (isNotFound(error)) return undefined
    throw error
  }
}

async function putObject(
  bucket: Bucket,
  key: string,
  body: Uint8Array,
  condition?: Condition,
): Promise<string | 'conflict'> {
  const { sdk, s3 } = await bucket.client.get()
  const send = async () => {
    const out = await s3.send(
      new sdk.PutObjectCommand({
        Bucket: bucket.name,
        Key: key,
        Body: body,
        ContentType: 'application/octet-stream',
        ...(condition && 'ifMatch' in condition ? { IfMatch: condition.ifMatch } : {}),
        ...(condition && 'ifNoneMatch' in condition ? { IfNoneMatch: condition.ifNoneMatch } : {}),
      }),
    )
    if (!out.ETag) throw new Error(`[s3] the store answered a write of ${key} without an ETag; the S3 queue needs one`)
    return quoteEtag(out.ETag)
  }
  if (!condition) return send()
  const outcome = await conditional(send)
  return outcome === 'missing' ? 'conflict' : outcome
}

async function deleteObject(
  bucket: Bucket,
  key: string,
  ifMatch?: string,
): Promise<'deleted' | 'missing' | 'conflict'> {
  const { sdk, s3 } = await bucket.client.get()
  const send = async () => {
    await s3.send(
      new sdk.DeleteObjectCommand({ Bucket: bucket.name, Key: key, ...(ifMatch ? { IfMatch: ifMatch } : {}) }),
    )
    return 'deleted' as const
  }
  return ifMatch ? conditional(send) : send()
}

async function* listObjects(bucket: Bucket, prefix: string): AsyncGenerator<ListedObject> {
  const { sdk, s3 } = await bucket.client.get()
  let token: string | undefined
  do {
    const page = await s3.send(
      new sdk.ListObjectsV2Command({ Bucket: bucket.name, Prefix: prefix, ContinuationToken: token }),
    )
    for (const item of page.Contents ?? []) {
      if (item.Key === undefined) continue
      yield {
        key: item.Key,
        etag: quoteEtag(item.ETag ?? ''),
        size: item.Size ?? 0,
        lastModified: item.LastModified?.getTime() ?? 0,
      }
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined
  } while (token)
}

/**
 * Runs a conditional request, again while S3 says another conditional request on the key is under way. A failed
 * precondition is `'conflict'` (412) or `'missing'` (404: `If-Match` on no object).
 */
async function conditional<T>(run: () => Promise<T>): Promise<T | 'conflict' | 'missing'> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run()
    } catch (error) {
      if (isPreconditionFailed(error)) return 'conflict'
      if (isNotFound(error)) return 'missing'
      // Still contended after a few tries: an error (the caller tries again later), never taken for a failed
      // precondition, which would tell a put that a delivery exists when it may not.
      if (!isConditionalConflict(error) || attempt >= CONFLICT_TRIES) throw error
      await sleep(10 * attempt + Math.random() * 20)
    }
  }
}

/** Which conditional requests the store honours (each `true` when a request whose condition fails is refused). */
export interface ConditionalSupport {
  /** PutObject with `If-None-Match: *` on an existing object. */
  createIfAbsent: boolean
  /** PutObject with `If-Match` naming another version. */
  replaceIfMatch: boolean
  /** DeleteObject with `If-Match` naming another version. */
  deleteIfMatch: boolean
}

/**
 * Finds out, with a probe object under `prefix`, whether the store refuses writes and deletes whose precondition
 * fails. The S3 queue and stream store need all three for their guarantees (`hookcast check` reports it).
 */
export async function probeConditionalRequests(objects: Objects, prefix: string): Promise<ConditionalSupport> {
  const key = `${prefix}probe/${crypto.randomUUID()}`
  const bytes = (text: string) => new TextEncoder().encode(text)
  const first = await objects.put(key, bytes('probe 1'), { ifNoneMatch: '*' })
  if (first === 'conflict') throw new Error(`[s3] cannot create the probe object ${key}`)
  const wrong = '"00000000000000000000000000000000"'
  try {
    return {
      createIfAbsent: (await objects.put(key, bytes('probe 2'), { ifNoneMatch: '*' })) === 'conflict',
      replaceIfMatch: (await objects.put(key, bytes('probe 3'), { ifMatch: wrong })) === 'conflict',
      deleteIfMatch: (await objects.delete(key, wrong)) === 'conflict',
    }
  } finally {
    await objects.delete(key).catch(() => {})
  }
}
