/** The session store contract against S3: s3rver behind the conditional proxy, a prefix per `open`. */
import { describe, expect, it } from 'vitest'
import { s3SessionStore } from '../../../src/backends/s3/session-store.ts'
import { storeKey } from '../../../src/admin/session-store.ts'
import { conditionalBucket } from './conditional-proxy.ts'
import { sessionStoreContract } from '../../admin/session-store.contract.ts'

const BUCKET = 'sessions'
const s3 = conditionalBucket(BUCKET)

let count = 0
const at = (prefix: string) => s3SessionStore({ ...s3.connection(), prefix })

sessionStoreContract({
  name: 's3',
  open: () => at(`p${++count}`),
  openAgain: () => at(`p${count}`),
})

describe('s3 session store', () => {
  it('keeps sessions under their hash, under the prefix; a failure window read after its end is forgotten', async () => {
    const store = at('hashed')
    const id = 'a-session-id-that-must-not-be-stored'
    await store.create(await storeKey(id), { created: 1, used: 1 })
    const client = await storeKey('203.0.113.9')
    await store.addFailure(client, 0, 60_000)
    const keys = () => s3.server().list(BUCKET, 'hashed/')
    expect(await keys()).toEqual([`hashed/sessions/${await storeKey(id)}`, `hashed/sign-in/${client}`])
    expect(await store.failures(client, 60_000)).toBeUndefined()
    expect(await keys()).toEqual([`hashed/sessions/${await storeKey(id)}`])
  })
})
