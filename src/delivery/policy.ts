/**
 * The delivery policy of each destination: the config's defaults with that destination's overrides.
 * @module
 */
import type { DeliveryConfig } from '../config/config-schema.ts'
import type { DeliveryPolicy } from './deliver-one.ts'

/** Deliveries under way at once for a destination neither the config nor the destination itself sets. */
const DEFAULT_CONCURRENCY = 8

/** `ownDefault`: the destination's own default concurrency (Destination.concurrency), for when the config sets none. */
export function policyFromConfig(config: DeliveryConfig, destination: string, ownDefault?: number): DeliveryPolicy {
  const own = config.destinations[destination] ?? {}
  const retry = { ...config.retry, ...own.retry }
  const circuit = { ...config.circuit, ...own.circuit }
  return {
    concurrency: own.concurrency ?? config.concurrency ?? ownDefault ?? DEFAULT_CONCURRENCY,
    timeoutMs: own.timeout ?? config.timeout,
    retry: { scheduleMs: retry.schedule, jitter: retry.jitter, maxAgeMs: retry.maxAge },
    circuit: { failures: circuit.failures, probeAfterMs: circuit.probeAfter, maxProbeAfterMs: circuit.maxProbeAfter },
  }
}
