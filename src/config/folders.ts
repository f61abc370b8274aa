/**
 * The folders a config has the gateway write, with the YAML path that names each: what Deno's `--allow-write` must
 * list (`hookcast deno` grants exactly these; a Deno start and `hookcast check` say which are missing).
 * @module
 */
import { join, resolve } from 'node:path'
import process from 'node:process'
import type { Config } from './config-schema.ts'

export interface WrittenFolder {
  /** Absolute, resolved against the working directory as the gateway resolves it. */
  dir: string
  /** The YAML path that names it, e.g. `sinks.disk.dir`. */
  from: string
}

export function writtenFolders(config: Config, cwd = process.cwd()): WrittenFolder[] {
  const folders: WrittenFolder[] = []
  const { spool } = config
  if (spool.type === 'local') {
    folders.push({ dir: resolve(cwd, spool.dir), from: 'spool.dir' })
    // The stream state lives inside the spool unless streams.dir puts it elsewhere (local spool only).
    const streams = resolve(cwd, config.streams.dir ?? join(spool.dir, 'streams'))
    if (!isInside(streams, folders[0]!.dir)) folders.push({ dir: streams, from: 'streams.dir' })
  }
  for (const [name, sink] of Object.entries(config.sinks)) {
    if (sink.type === 'fs') folders.push({ dir: resolve(cwd, sink.dir), from: `sinks.${name}.dir` })
  }
  return folders
}

/** Deno's flag granting writes to exactly `folders` (a folder inside another listed one is left out). */
export function allowWriteFlag(folders: readonly WrittenFolder[]): string {
  const dirs = [...new Set(folders.map((folder) => folder.dir))]
  const outer = dirs.filter((dir) => !dirs.some((other) => other !== dir && isInside(dir, other)))
  return `--allow-write=${outer.join(',')}`
}

function isInside(dir: string, parent: string): boolean {
  return dir === parent || dir.startsWith(parent.endsWith('/') ? parent : `${parent}/`)
}
