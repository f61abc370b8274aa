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
  return `--allow-write=${outermost(folders.map((folder) => folder.dir)).join(',')}`
}

/** `paths` without repeats and without those inside another of them (a permission for a folder covers them). */
export function outermost(paths: readonly string[]): string[] {
  const unique = [...new Set(paths)]
  return unique.filter((path) => !unique.some((other) => other !== path && isInside(path, other)))
}

function isInside(dir: string, parent: string): boolean {
  return dir === parent || dir.startsWith(parent.endsWith('/') ? parent : `${parent}/`)
}

/**
 * The files and folders outside the code a config has the gateway read: the config file, the folders it writes,
 * and NATS credentials and TLS files; undefined when a cloud store's SDK reads credential files the config does not
 * name (~/.aws, Application Default Credentials), so only a whole `--allow-read` will do.
 */
export function readPaths(config: Config, configPath: string | undefined, cwd = process.cwd()): string[] | undefined {
  const { spool } = config
  const cloud = spool.type === 's3' || Object.values(config.sinks).some((sink) => sink.type !== 'fs')
  if (cloud) return undefined
  const paths = writtenFolders(config, cwd).map((folder) => folder.dir)
  // With no config file, the gateway still looks for the ones it would take (load.ts, resolveConfigPath).
  const configs = configPath === undefined ? ['config.yaml', 'config.example.yaml'] : [configPath]
  paths.unshift(...configs.map((file) => resolve(cwd, file)))
  if (spool.type === 'nats') {
    const { credsFile, tls } = spool.auth ?? {}
    for (const file of [credsFile, tls?.caFile, tls?.certFile, tls?.keyFile])
      if (file !== undefined) paths.push(resolve(cwd, file))
  }
  return paths
}
