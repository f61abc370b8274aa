/**
 * podman for the image test. Run as root (CI), container-base.sh builds a local stand-in for `node:24-slim` from the
 * Debian mirror and the npm registry, for machines that reach no container registry, and prints the settings such a
 * machine needs; otherwise podman runs with its own settings and pulls `node:24-slim`.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface Podman {
  /** Runs `podman args...`; rejects on a non-zero exit, with its output in the error. */
  (args: readonly string[], timeoutMs?: number): Promise<{ stdout: string; stderr: string }>
  /** Extra `podman build` arguments (the stand-in's CA bundle and npmrc, `--pull=never`). */
  buildArgs: string[]
}

/** Why the image test cannot run here (no podman), or undefined. */
export async function podmanMissing(): Promise<string | undefined> {
  const found = await run('podman', ['--version']).then(
    () => true,
    () => false,
  )
  return found ? undefined : 'podman is not installed (.ci/run installs it with apt-get)'
}

/** The stand-in's script: the workspace's shared copy when there is one above the repository, else ours. */
function containerBase(root: string): string | undefined {
  if (process.getuid?.() !== 0) return undefined // debootstrap needs root
  for (let dir = root; ; dir = dirname(dir)) {
    const script = join(dir, 'shared', 'tools', 'container-base.sh')
    if (existsSync(script)) return script
    if (dirname(dir) === dir) return join(root, 'test', 'container', 'container-base.sh')
  }
}

/**
 * podman as this machine needs it. The stand-in's storage stays in the temporary folder between runs, so the
 * image's layers (npm ci takes minutes) are built again only when their inputs change.
 */
export async function podman(root: string): Promise<Podman> {
  const script = containerBase(root)
  let command = ['podman']
  let env: NodeJS.ProcessEnv = process.env
  const buildArgs: string[] = []
  if (script) {
    // One build of the stand-in at a time: two suites at once (two checkouts on one machine) would otherwise build
    // into the same folder, one taking the other's half-made root file system for a finished one.
    const workdir = join(tmpdir(), 'hookcast-oci')
    const { stdout } = await run('flock', [`${workdir}.lock`, 'bash', script, workdir], { timeout: 900_000 })
    const settings = Object.fromEntries(
      [...stdout.matchAll(/^(?:export )?(\w+)='([^']*)'$/gm)].map((match) => [match[1]!, match[2]!]),
    )
    command = settings.PODMAN!.split(' ')
    env = { ...process.env, CONTAINERS_CONF: settings.CONTAINERS_CONF }
    buildArgs.push('--pull=never', ...settings.PODMAN_BUILD_MOUNTS!.split(' '))
  }
  const call = (args: readonly string[], timeoutMs = 60_000) =>
    run(command[0]!, [...command.slice(1), ...args], { env, timeout: timeoutMs, maxBuffer: 64 << 20 })
  return Object.assign(call, { buildArgs })
}
