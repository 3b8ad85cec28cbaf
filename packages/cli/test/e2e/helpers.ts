import { spawnSync } from 'node:child_process'
import { resolve } from 'node:path'

/** The repository root and the real `plora` bin. */
export const REPO = resolve(import.meta.dirname, '../../../..')
export const BIN = resolve(REPO, 'packages/cli/bin/plora.js')

/** Runs the built bin like a user would and captures everything. */
export function runPlora(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? REPO,
    env: { ...process.env, PLORA_CONFIG: '', ...options.env },
    encoding: 'utf8',
    timeout: 60_000,
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}
