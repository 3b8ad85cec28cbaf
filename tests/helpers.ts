import { vi } from 'vitest'
import { main } from '../packages/cli/src/main.js'

/** What one in-process `plora` invocation printed and returned. */
export interface CliResult {
  code: number
  out: string
  err: string
}

/**
 * Runs `plora <args>` in this process (from TypeScript sources, no build) and captures stdout and
 * stderr. `process.exitCode` is reset afterwards so one command's status never leaks into the next.
 */
export async function runCli(...args: string[]): Promise<CliResult> {
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true)
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
  try {
    const code = await main(['node', 'plora', ...args])
    return {
      code,
      out: out.mock.calls.map((c) => String(c[0])).join(''),
      err: err.mock.calls.map((c) => String(c[0])).join(''),
    }
  } finally {
    out.mockRestore()
    err.mockRestore()
    process.exitCode = undefined
  }
}
