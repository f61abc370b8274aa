/** The signing key store contract against S3: s3rver behind the conditional proxy, a prefix per round. */
import { s3SigningKeyStore } from '../../../src/backends/s3/signing-key.ts'
import { conditionalBucket } from './conditional-proxy.ts'
import { signingKeyContract } from '../../streams/signing-key.contract.ts'

const BUCKET = 'keys'
const s3 = conditionalBucket(BUCKET)

let count = 0
const at = (prefix: string) =>
  s3SigningKeyStore({
    ...s3.connection(),
    prefix,
  })

signingKeyContract({
  name: 's3',
  open: () => at(`k${++count}`),
  openAgain: () => at(`k${count}`),
})
