/** A HookEvent built in memory, for tests of the parts after parsing. */
import type { HookEvent } from '../../src/events/types.ts'

export function makeEvent(fields: Partial<HookEvent> = {}): HookEvent {
  return {
    id: 'abc123',
    source: 'millicast',
    type: 'thumbnail',
    event: 'thumbnail',
    timestamp: 1679974440650,
    receivedAt: 1,
    streamId: 'ZG6NWV/lobby',
    streamName: 'lobby',
    accountId: 'ZG6NWV',
    feedId: 'f-1',
    contentType: 'image/jpeg',
    body: new Uint8Array(),
    bodySha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    ...fields,
  }
}
