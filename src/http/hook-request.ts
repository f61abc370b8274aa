/**
 * One webhook request as metrics see it.
 * @module
 */

export interface HookRequest {
  source: string
  /** The hook kind once known (`unknown` when refused before parsing). */
  kind: string
  status: number
  reason: string
  seconds: number
}
