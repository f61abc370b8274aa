/**
 * The config of a function given none (neither HOOKCAST_CONFIG_YAML nor HOOKCAST_CONFIG): every hook stored in the
 * function's bucket (template.yaml sets HOOKCAST_BUCKET; Lambda sets AWS_REGION), the queue and the stream state
 * in the same bucket under `spool/`. No development secret: a function URL is public, so the secret must be set.
 * @module
 */

export const SERVERLESS_DEFAULT_ORIGIN =
  '(the default config of a function; set HOOKCAST_CONFIG_YAML or HOOKCAST_CONFIG for your own)'

export const SERVERLESS_DEFAULT_CONFIG = `
sources:
  millicast:
    path: /hooks/millicast
    secrets: ["\${MILLICAST_WEBHOOK_SECRET}"]
sinks:
  bucket:
    type: s3
    bucket: "\${HOOKCAST_BUCKET}"
    region: "\${AWS_REGION}"
    key: "hooks/{type}/{streamId}/{date}/{timestamp}-{event}-{id}.{ext}"
routes:
  - to: [bucket]
spool:
  type: s3
  bucket: "\${HOOKCAST_BUCKET}"
  region: "\${AWS_REGION}"
  prefix: spool
admin:
  token: "\${HOOKCAST_ADMIN_TOKEN:-}"
`
