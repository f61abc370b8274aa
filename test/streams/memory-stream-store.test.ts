/** The stream store contract against the memory store (the reference). */
import { memoryStreamStore } from '../../src/streams/memory-stream-store.ts'
import { streamStoreContract } from './stream-store.contract.ts'

streamStoreContract({ name: 'memory', open: async () => memoryStreamStore() })
