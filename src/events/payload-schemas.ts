/**
 * The documented `data` of each JSON hook kind (docs/protocol.md §3-§7), as zod schemas.
 *
 * Payloads are signed by the platform and never resent, so a shape we don't expect is logged, not refused: these
 * schemas say what we know, and `.loose()` keeps fields the platform adds later.
 * @module
 */
import { z } from 'zod'

const epochMs = z.number()

const feedsData = z
  .object({
    feedId: z.string(),
    accountId: z.string(),
    name: z.string(),
    streamId: z.string(),
    started: epochMs.optional(),
    ended: epochMs.optional(),
    active: z.boolean(),
    priority: z.number().optional(),
    sourceId: z.string().optional(),
    simulcastId: z.string().optional(),
  })
  .loose()

const recordingsData = z
  .object({
    recordFileId: z.number(),
    tokenId: z.number(),
    streamName: z.string(),
    recordedOn: epochMs,
    metadata: z.record(z.string(), z.unknown()).optional(),
    removedOn: epochMs.optional(),
  })
  .loose()

const mediaData = z
  .object({
    mediaAssetId: z.string(),
    type: z.string(),
    tokenId: z.number().optional(),
    streamName: z.string().optional(),
    streamId: z.string().optional(),
    channelId: z.string().optional(),
    startTime: epochMs.optional(),
    expiration: epochMs.optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
  })
  .loose()

const transcoderData = z
  .object({
    transcoderId: z.string(),
    transcoderName: z.string(),
    cluster: z.string(),
    createdOn: z.string(),
    status: z.string(),
  })
  .loose()

const viewerConnectionData = z
  .object({
    name: z.string(),
    accountId: z.string(),
    streamId: z.string(),
  })
  .loose()

export const DATA_SCHEMAS: Record<string, z.ZodType> = {
  feeds: feedsData,
  recordings: recordingsData,
  media: mediaData,
  transcoder: transcoderData,
  viewerConnection: viewerConnectionData,
}

/** The JSON envelope shared by every non-thumbnail hook. */
export const envelope = z
  .object({
    type: z.string().min(1),
    event: z.string().min(1),
    timestamp: z.number(),
    data: z.record(z.string(), z.unknown()).default({}),
  })
  .loose()
