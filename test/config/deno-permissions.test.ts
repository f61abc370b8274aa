/** What `hookcast deno` grants for a config (issue 25, item 2): its folders, its reads and its hosts. */
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/load.ts'
import { allowWriteFlag, readPaths, writtenFolders } from '../../src/config/folders.ts'
import { netHosts } from '../../src/config/hosts.ts'
import { SECRET } from '../support/hooks.ts'

const config = (yaml: string) =>
  parseConfig(`sources:\n  m: { path: /h, secrets: ["${SECRET}"] }\n${yaml}`, { KEY: 'k', SECRET_KEY: 's' })

describe('the permissions a config needs on Deno', () => {
  it('writes: the spool, streams.dir outside it, every fs sink, each folder once', () => {
    const local = config(
      'spool: { dir: spool }\nstreams: { dir: /srv/streams }\n' +
        'sinks:\n  a: { type: fs, dir: /srv/data }\n  b: { type: fs, dir: /srv/data/b }\n',
    )
    expect(writtenFolders(local, '/work')).toEqual([
      { dir: '/work/spool', from: 'spool.dir' },
      { dir: '/srv/streams', from: 'streams.dir' },
      { dir: '/srv/data', from: 'sinks.a.dir' },
      { dir: '/srv/data/b', from: 'sinks.b.dir' },
    ])
    expect(allowWriteFlag(writtenFolders(local, '/work'))).toBe('--allow-write=/work/spool,/srv/streams,/srv/data')
    // The default stream state lives in the spool; a NATS spool writes no folder.
    expect(writtenFolders(config('spool: { dir: /s }\n'), '/work')).toEqual([{ dir: '/s', from: 'spool.dir' }])
    expect(writtenFolders(config('spool: { type: nats, servers: ["nats://n1:4222"] }\n'), '/work')).toEqual([])
  })

  it('hosts: NATS servers, an S3-compatible endpoint with its own keys; the whole network for AWS or GCS', () => {
    const nats = config('spool: { type: nats, servers: ["nats://n1:4222", "tls://n2:4443"] }\n')
    expect(netHosts(nats, '0.0.0.0')).toEqual({ hosts: ['0.0.0.0', 'n1:4222', 'n2:4443'] })
    expect(netHosts(nats, '::')).toEqual({ hosts: ['[::]', 'n1:4222', 'n2:4443'] })
    const minio = config(
      'sinks:\n  pics: { type: s3, bucket: pics, endpoint: "http://minio:9000", accessKeyId: "${KEY}", ' +
        'secretAccessKey: "${SECRET_KEY}" }\n',
    )
    expect(netHosts(minio, '127.0.0.1')).toEqual({ hosts: ['127.0.0.1', 'minio:9000'] })
    expect(netHosts(config('sinks:\n  pics: { type: s3, bucket: pics, region: eu-west-1 }\n'), '127.0.0.1')).toEqual({
      anyHost: 'sinks.pics: S3 reaches AWS hosts the config does not name',
    })
    expect(netHosts(config('sinks:\n  pics: { type: gcs, bucket: pics }\n'), '127.0.0.1')).toHaveProperty('anyHost')
  })

  it('reads: the config (or the files looked for without one), its folders and NATS files; all with a cloud store', () => {
    const nats = config(
      'spool: { type: nats, servers: ["nats://n1:4222"], auth: { credsFile: hook.creds, tls: { caFile: /ca.pem } } }\n',
    )
    expect(readPaths(nats, 'config.yaml', '/work')).toEqual(['/work/config.yaml', '/work/hook.creds', '/ca.pem'])
    expect(readPaths(config('spool: { dir: /s }\n'), undefined, '/work')).toEqual([
      '/work/config.yaml',
      '/work/config.example.yaml',
      '/s',
    ])
    expect(readPaths(config('sinks:\n  pics: { type: gcs, bucket: pics }\n'), 'c.yaml', '/work')).toBeUndefined()
  })
})
