/**
 * A real Cloud Storage JSON API for tests: the firebase-tools Storage emulator, run in-process on 127.0.0.1 on a
 * free port, with its blobs under a temp dir.
 *
 * The emulator creates a bucket on first use and checks no credentials, so it never answers 401, 403 or 404 to an
 * upload. For those, `endpoint` is a pass-through proxy in front of it that answers for buckets named with
 * `refuse()` exactly as GCS does (status and JSON error body); every other request reaches the emulator unchanged.
 */
import { createServer, request as httpRequest, type Server } from 'node:http'
import { Storage } from '@google-cloud/storage'
import { tempDir } from './files.ts'
import { freePort } from './ports.ts'

// Never look for a Google metadata server (169.254.169.254) while testing: there is none, and no network.
process.env.METADATA_SERVER_DETECTION = 'none'

export const GCS_PROJECT = 'demo-hookcast'

/**
 * What GCS answers when the bucket is missing, the identity may not write, the key is revoked, a request carries no
 * credentials, or it sheds load.
 */
const REFUSALS = {
  missing: { status: 404, reason: 'notFound', message: 'The specified bucket does not exist.' },
  denied: {
    status: 403,
    reason: 'forbidden',
    message:
      "hookcast@demo-hookcast.iam.gserviceaccount.com does not have storage.objects.create access to the Google Cloud Storage object. Permission 'storage.objects.create' denied on resource (or it may not exist).",
  },
  unauthenticated: { status: 401, reason: 'authError', message: 'Invalid Credentials' },
  anonymous: {
    status: 401,
    reason: 'required',
    message:
      "Anonymous caller does not have storage.objects.create access to the Google Cloud Storage object. Permission 'storage.objects.create' denied on resource (or it may not exist).",
  },
  throttled: {
    status: 429,
    reason: 'rateLimitExceeded',
    message: 'The object exceeded the rate limit for object mutation operations (create, update, and delete).',
  },
  unavailable: { status: 503, reason: 'backendError', message: 'Backend Error' },
} as const

export type Refusal = keyof typeof REFUSALS

export interface StoredGcsObject {
  body: Uint8Array
  contentType: string | undefined
  contentEncoding: string | undefined
  metadata: Record<string, string>
}

export interface GcsTestServer {
  /** The proxy in front of the emulator: point sinks here. */
  endpoint: string
  /** The emulator itself. */
  emulatorEndpoint: string
  /** Makes every request for `bucket` fail as GCS fails it. */
  refuse(bucket: string, refusal: Refusal): void
  storage: Storage
  get(bucket: string, key: string): Promise<StoredGcsObject | undefined>
  /** Keys under `prefix`, sorted. */
  list(bucket: string, prefix?: string): Promise<string[]>
  stop(): Promise<void>
}

interface Emulator {
  _rulesRuntime: { start(): Promise<void>; stop(): Promise<void> }
}

export async function startGcsServer(): Promise<GcsTestServer> {
  const dir = tempDir('hookcast-gcs-')
  const port = await freePort()
  const emulator = await startEmulator(port, dir.path)
  const emulatorEndpoint = `http://127.0.0.1:${port}`

  const refusals = new Map<string, Refusal>()
  const proxy = createServer((req, res) => {
    const refusal = refusals.get(bucketOf(req.url ?? '/'))
    if (refusal) {
      const { status, reason, message } = REFUSALS[refusal]
      req.resume()
      res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' })
      res.end(JSON.stringify({ error: { code: status, message, errors: [{ message, domain: 'global', reason }] } }))
      return
    }
    // A connection of its own for each request: reusing one the emulator is just closing (its keep-alive ends
    // after 5 s idle) resets the request, which a loaded run turned into a sink's failed write.
    const upstream = httpRequest(
      { host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers, agent: false },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    upstream.on('error', () => res.destroy())
    req.pipe(upstream)
  })
  // The same race on the sinks' side: only the client closes an idle connection (stop() closes the rest).
  proxy.keepAliveTimeout = 0
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  const endpoint = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`
  const storage = new Storage({ apiEndpoint: emulatorEndpoint, projectId: GCS_PROJECT })

  return {
    endpoint,
    emulatorEndpoint,
    refuse: (bucket, refusal) => void refusals.set(bucket, refusal),
    storage,
    async get(bucket, key) {
      const file = storage.bucket(bucket).file(key)
      try {
        const [[body], [metadata]] = await Promise.all([file.download(), file.getMetadata()])
        return {
          body: new Uint8Array(body),
          contentType: metadata.contentType,
          contentEncoding: metadata.contentEncoding,
          metadata: (metadata.metadata ?? {}) as Record<string, string>,
        }
      } catch (error) {
        if ((error as { code?: number }).code === 404) return undefined
        throw error
      }
    },
    async list(bucket, prefix = '') {
      const [files] = await storage.bucket(bucket).getFiles({ prefix })
      return files.map((file) => file.name).sort()
    },
    async stop() {
      await closeServer(proxy)
      await emulator.stop()
      dir.remove()
    },
  }
}

/** `/b/thumbs/o`, `/upload/storage/v1/b/thumbs/o`, `/storage/v1/b/thumbs/o/x` and `/thumbs/x` (downloads) -> thumbs */
function bucketOf(url: string): string {
  const path = new URL(url, 'http://localhost').pathname
  const named = /\/b\/([^/]+)/.exec(path)?.[1] ?? path.split('/')[1] ?? ''
  return decodeURIComponent(named)
}

async function startEmulator(port: number, tmp: string): Promise<{ stop(): Promise<void> }> {
  // The emulator keeps blobs under $TMPDIR/firebase and deletes them on stop: a dir of our own keeps parallel test
  // files apart. It reads TMPDIR when constructed.
  const savedTmp = process.env.TMPDIR
  process.env.TMPDIR = tmp
  try {
    const { StorageEmulator } = (await import('firebase-tools/lib/emulator/storage/index.js' as string)) as {
      StorageEmulator: new (args: Record<string, unknown>) => Emulator
    }
    const { EmulatorRegistry } = (await import('firebase-tools/lib/emulator/registry.js' as string)) as {
      EmulatorRegistry: { start(emulator: Emulator): Promise<void>; stop(name: string): Promise<void> }
    }
    const emulator = new StorageEmulator({
      projectId: GCS_PROJECT,
      host: '127.0.0.1',
      port,
      rules: [],
      auto_download: false,
    })
    // The rules runtime is a downloaded Java jar; the Cloud Storage API used here never consults rules.
    emulator._rulesRuntime.start = async () => {}
    emulator._rulesRuntime.stop = async () => {}
    await EmulatorRegistry.start(emulator)
    return { stop: () => EmulatorRegistry.stop('storage') }
  } finally {
    if (savedTmp === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = savedTmp
  }
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections()
  return new Promise((resolve) => server.close(() => resolve()))
}
