/**
 * The network hosts a config has the gateway reach, for Deno's `--allow-net`: where it listens, every HTTP and Slack
 * destination, the NATS servers, and S3-compatible stores at an endpoint with their own keys. Amazon S3 and Google
 * Cloud Storage reach hosts the config does not name (regional endpoints, the credential chain's token and metadata
 * services), so with one of them the whole network is needed.
 * @module
 */
import type { Config } from './config-schema.ts'

export type NetHosts = { hosts: string[] } | { anyHost: string }

/** Slack's files upload v2 posts the bytes to an upload URL on this host (bot mode). */
const SLACK_UPLOADS = 'files.slack.com'

export function netHosts(config: Config, listenHost: string): NetHosts {
  const hosts = [listenHost.includes(':') && !listenHost.startsWith('[') ? `[${listenHost}]` : listenHost]
  const spool = config.spool
  if (spool.type === 'nats') hosts.push(...spool.servers.map(hostOf))
  if (spool.type === 's3') {
    if (!spool.endpoint || !spool.accessKeyId)
      return { anyHost: 'spool: s3 reaches AWS hosts the config does not name' }
    hosts.push(hostOf(spool.endpoint))
  }
  for (const [name, sink] of Object.entries(config.sinks)) {
    if (sink.type === 'gcs')
      return { anyHost: `sinks.${name}: Google Cloud Storage reaches hosts the config does not name` }
    if (sink.type !== 's3') continue
    if (!sink.endpoint || !sink.accessKeyId)
      return { anyHost: `sinks.${name}: S3 reaches AWS hosts the config does not name` }
    hosts.push(hostOf(sink.endpoint))
  }
  for (const notifier of Object.values(config.notifiers)) {
    if (notifier.type === 'http') hosts.push(hostOf(notifier.url))
    else if (notifier.webhookUrl) hosts.push(hostOf(notifier.webhookUrl))
    else hosts.push(hostOf(notifier.apiUrl), SLACK_UPLOADS)
  }
  // A host named without a port allows every port of it: `host:port` beside it adds nothing.
  const named = new Set(hosts)
  return { hosts: [...named].filter((host) => host === withoutPort(host) || !named.has(withoutPort(host))) }
}

function withoutPort(host: string): string {
  return host.replace(/:\d+$/, '')
}

/** `host:port` as Deno's `--allow-net` takes it (the port only when the URL names one). */
function hostOf(url: string): string {
  return new URL(url.replace(/^(nats|tls|wss?):/, 'http:')).host
}
