/**
 * Realistic platform webhooks for `hookcast send`, shaped as docs/protocol.md describes them.
 * @module
 */

interface SampleOptions {
  /** `account/name`. */
  stream: string
  feedId: string
  tokenId: string
  now: number
}

type Payload = { type: string; event: string; timestamp: number; data: Record<string, unknown> }

const SAMPLES: Record<string, (o: SampleOptions & { accountId: string; name: string }) => Payload> = {
  'feeds-started': (o) => feed('started', o),
  'feeds-ended': (o) => feed('ended', o),
  'recording-started': (o) => recording('started', o),
  'recording-completed': (o) => ({
    ...recording('completed', o),
    data: {
      ...recording('completed', o).data,
      metadata: {
        format: 'MPEG-4',
        sizes: { concat: 92791, dash: 97934, thumbnails: 0 },
        duration: 60,
        tracks: [{ type: 'video', codec: 'H264', bitrate: 2898391, width: 640, height: 360, framerate: 29.97 }],
      },
    },
  }),
  'recording-error': (o) => recording('error', o),
  'media-processing': (o) => media('processing', o),
  'media-completed': (o) => media('completed', o),
  'media-errored': (o) => media('errored', o),
  'transcoder-active': (o) => transcoder('ACTIVE', 'Active', o),
  'transcoder-stopped': (o) => transcoder('STOPPED', 'Shutdown', o),
  'viewer-attempt': (o) => viewer('ViewerAttempt', o),
  'first-viewer': (o) => viewer('FirstViewerConnection', o),
  'no-viewers': (o) => viewer('NoActiveViewers', o),
}

export const SAMPLE_KINDS = ['thumbnail', ...Object.keys(SAMPLES)]

/** The JSON body of a sample hook, or undefined for an unknown kind (and for `thumbnail`, which is a JPEG). */
export function samplePayload(kind: string, options: SampleOptions): Payload | undefined {
  const [accountId, name] = options.stream.split('/') as [string, string]
  return Object.hasOwn(SAMPLES, kind) ? SAMPLES[kind]!({ ...options, accountId, name }) : undefined
}

function feed(event: 'started' | 'ended', o: SampleOptions & { accountId: string; name: string }): Payload {
  const at = o.now - 20
  return {
    type: 'feeds',
    event,
    timestamp: o.now,
    data: {
      feedId: o.feedId,
      accountId: o.accountId,
      name: o.name,
      streamId: o.stream,
      ...(event === 'started' ? { started: at, active: true } : { active: false, ended: at }),
    },
  }
}

function recording(event: string, o: SampleOptions & { name: string }): Payload {
  return {
    type: 'recordings',
    event,
    timestamp: o.now,
    data: { recordFileId: 7975, tokenId: Number(o.tokenId), streamName: o.name, recordedOn: o.now - 60_000 },
  }
}

function media(event: string, o: SampleOptions & { name: string }): Payload {
  return {
    type: 'media',
    event,
    timestamp: o.now,
    data: {
      mediaAssetId: 'e0ca421e3ee748629d073b6991d4d93d',
      tokenId: Number(o.tokenId),
      streamName: o.name,
      streamId: o.stream,
      startTime: o.now - 60_000,
      metadata: {},
      type: 'recording',
    },
  }
}

function transcoder(event: string, status: string, o: SampleOptions): Payload {
  return {
    type: 'transcoder',
    event,
    timestamp: o.now,
    data: {
      transcoderId: '0d09f40c-2988-47aa-8ac7-dca04b971cf0',
      transcoderName: 'hookcast-test',
      cluster: 'lon-1',
      createdOn: new Date(o.now - 3_600_000).toISOString(),
      status,
    },
  }
}

function viewer(event: string, o: SampleOptions & { accountId: string; name: string }): Payload {
  return {
    type: 'viewerConnection',
    event,
    timestamp: o.now,
    data: { name: o.name, accountId: o.accountId, streamId: o.stream },
  }
}
