/**
 * The config used when no file is given and none is found: receive on /hooks/millicast and keep everything on
 * local disk. The development secret is the protocol's published test secret; set MILLICAST_WEBHOOK_SECRET for
 * anything real.
 * @module
 */

export const DEV_SECRET = 'bWlsbGljYXN0LXRlc3Qtc2VjcmV0LTAxMjM0NTY3ODk='

export const EMBEDDED_CONFIG = `
server:
  port: 8080
sources:
  millicast:
    path: /hooks/millicast
    secrets: ["\${MILLICAST_WEBHOOK_SECRET:-${DEV_SECRET}}"]
sinks:
  disk:
    type: fs
    dir: ./data
routes:
  - to: [disk]
`
