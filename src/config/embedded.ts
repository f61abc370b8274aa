/**
 * The config used when no file is given and none is found: receive on /hooks/millicast and keep everything on
 * local disk. The development secret is the protocol's published test secret; set MILLICAST_WEBHOOK_SECRET for
 * anything real. No host is set, so while the development secret is in use the gateway listens on 127.0.0.1
 * only (listen.ts), and on 0.0.0.0 once a real secret is set.
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
