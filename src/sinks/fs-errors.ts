/**
 * Local disk failures classified for the spool: a name the file system can never take is permanent (dead letters at
 * once, with the reason); anything else (disk full, permissions, a read-only mount) an operator can fix: retried.
 * @module
 */
import { DeliveryError } from '../destinations/types.ts'

/** Errors about the name itself: too long, or characters this file system does not take (vfat, NTFS, ZFS utf8only). */
const REFUSED_NAME = new Set(['ENAMETOOLONG', 'EILSEQ', 'EINVAL'])

export function fsDeliveryError(error: unknown, path: string, sink: string): DeliveryError {
  const code = (error as { code?: string }).code
  const message = (error as Error).message ?? String(error)
  if (code !== undefined && REFUSED_NAME.has(code)) {
    const fix = `shorten sinks.${sink}.key or sinks.${sink}.dir (hookcast check tries the longest names the key gives)`
    const reason = `the file system refuses the name (${code}), and always will`
    return new DeliveryError(`cannot write ${path}: ${reason}: ${fix}`, { permanent: true, cause: error })
  }
  return new DeliveryError(`cannot write ${path}: ${message}`, { cause: error })
}
