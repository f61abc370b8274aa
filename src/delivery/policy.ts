/**
 * The delivery policy of each destination: the config's defaults with that destination's overrides.
 * @module
 */
import type { DeliveryConfig } from '../config/schema.ts'
import type { DeliveryPolicy } from './deliver-one.ts'

export function policyFromConfig(config: DeliveryConfig, destination: string): DeliveryPolicy {
  const own = config.destinations[destination] ?? {}
  const retry = { ...config.retry, ...own.retry }
  const circuit = { ...config.circuit, ...own.circuit }
  return {
    concurrency: own.concurrency ?? config.concurrency,
    timeoutMs: own.timeout ?? config.timeout,
    retry: { scheduleMs: retry.schedule, jitter: retry.jitter, maxAgeMs: retry.maxAge },
    circuit: { failures: circuit.failures, probeAfterMs: circuit.probeAfter, maxProbeAfterMs: circuit.maxProbeAfter },
  }
}
