/**
 * A delivery made in a lane: deliverOne, then the lane's circuit hears what it showed. The worker and the on-demand
 * worker both deliver this way, so a circuit moves the same on a server and in a serverless function.
 * @module
 */
import type { Claim } from '../queue/types.ts'
import { hearVerdict, type Circuit } from './circuit.ts'
import { deliverOne, errorMessage, type DeliverOneOptions } from './deliver-one.ts'

/** Resolves false when deliverOne itself threw (a bug: logged; the claim is left to its lease). */
export async function deliverInLane(
  claim: Claim,
  lane: { name: string; circuit: Circuit },
  probe: boolean,
  options: DeliverOneOptions,
): Promise<boolean> {
  const now = options.now ?? Date.now
  try {
    hearVerdict(lane.circuit, await deliverOne(claim, options), probe, now)
    return true
  } catch (error) {
    options.log.error('delivery failed unexpectedly; this is a bug', {
      destination: lane.name,
      id: claim.eventId,
      error: errorMessage(error),
    })
    hearVerdict(lane.circuit, 'none', probe, now)
    return false
  }
}
