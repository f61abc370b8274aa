/**
 * Deno's start refuses a config whose folders it may not write, naming the flag to start it with: otherwise a spool
 * elsewhere fails with a stack trace, and a sink elsewhere starts fine and then fails every delivery.
 */
import type { Config } from '../../src/config/config-schema.ts'
import { allowWriteFlag, writtenFolders } from '../../src/config/folders.ts'

// Only the part of the Deno namespace this file touches.
declare const Deno: {
  permissions: { querySync(descriptor: { name: 'write'; path: string }): { state: 'granted' | 'denied' | 'prompt' } }
}

/** Why Deno must not start with `config`, or undefined when it may write every folder the config names. */
export function missingWriteAccess(config: Config): string | undefined {
  const folders = writtenFolders(config)
  const denied = folders.filter(
    (folder) => Deno.permissions.querySync({ name: 'write', path: folder.dir }).state !== 'granted',
  )
  if (denied.length === 0) return undefined
  return [
    `Deno may not write to ${denied.length === 1 ? 'a folder' : 'folders'} the config names:`,
    ...denied.map((folder) => `  ${folder.from}: ${folder.dir}`),
    'Start Deno with this flag (every folder the config writes):',
    `  ${allowWriteFlag(folders)}`,
    'or start it with `npx hookcast deno --config FILE`, which grants exactly the folders and hosts the config names.',
  ].join('\n')
}
