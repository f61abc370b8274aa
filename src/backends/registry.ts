/**
 * The backends by `spool.type`: the one place that chooses. Each is loaded only when chosen, so a gateway on local
 * files never loads the NATS client or the AWS SDK.
 * @module
 */
import type { Config } from '../config/config-schema.ts'
import type { SpoolConfig } from '../config/backend.ts'
import type { DeadLetterFilter } from '../queue/types.ts'
import type { Backend, BackendCheck, BackendDeps, BackendKind, ReplayProgress } from './types.ts'

/** A backend kind with its settings taken from the config. */
export interface ChosenBackend {
  open(config: Config, deps: BackendDeps): Promise<Backend>
  check(config: Config): Promise<BackendCheck>
  replay(filter: DeadLetterFilter, onProgress?: ReplayProgress): Promise<number>
  replayWaitsForGateway: boolean
}

export async function chooseBackend(spool: SpoolConfig): Promise<ChosenBackend> {
  switch (spool.type) {
    case 'nats':
      return choose((await import('./nats/open.ts')).natsBackend, spool)
    case 's3':
      return choose((await import('./s3/open.ts')).s3Backend, spool)
    default:
      return choose((await import('./local/open.ts')).localBackend, spool)
  }
}

export async function openBackend(config: Config, deps: BackendDeps): Promise<Backend> {
  return (await chooseBackend(config.spool)).open(config, deps)
}

function choose<S>(kind: BackendKind<S>, spool: S): ChosenBackend {
  return {
    open: (config, deps) => kind.open(config, spool, deps),
    check: (config) => kind.check(config, spool),
    replay: (filter, onProgress) => kind.replay(spool, filter, onProgress),
    replayWaitsForGateway: kind.replayWaitsForGateway,
  }
}
