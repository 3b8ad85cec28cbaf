import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { copyFile, mkdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

// The built CLI's `plora pipeline` (issue 19) and mk/pipeline.mk, on cheap steps only: step 18
// (dump-policy, ~1 s) runs for real; step 15 fails for real on an empty results folder. The whole
// pipeline runs in tests/pipeline-e2e.slow.test.ts.
const REPO = resolve(import.meta.dirname, '..')
const BIN = join(REPO, 'packages/cli/bin/plora.js')

function plora(cwd: string, ...args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env, PLORA_LOG_LEVEL: 'warn' }
  delete env.PLORA_CONFIG
  return spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env, timeout: 60_000 })
}

describe('plora pipeline (built bin)', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'plora-pipeline-cli-'))

  it('runs one step, logs it, records it; fails loudly with the resume hint; status, check, reset', () => {
    expect(plora(cwd, 'pipeline', 'status', 'dry').stdout).toBe('No dry-run in progress (will start from step 1)\n')

    const one = plora(cwd, 'pipeline', 'run', 'dry', '--only', '18')
    expect(one.status, one.stderr).toBe(0)
    expect(one.stderr).toMatch(/\[1\/19\] Running unit tests .* - SKIPPED \(left out by --skip\/--only\)/)
    expect(one.stderr).toMatch(/\[18\/19\] Dump effective security policy\n/)
    expect(one.stderr).toMatch(/\[18\/19\] done in \d+\.\d s/)
    expect(one.stderr).toMatch(/\[report\] .* - SKIPPED \(needs all 19 steps/)
    const logs = readdirSync(join(cwd, 'logs'))
    expect(logs).toHaveLength(1)
    expect(logs[0]).toMatch(/^dry-run-lite-\d{8}-\d{6}\.log$/)
    // The step's own output (the policy JSON) is in the log.
    expect(readFileSync(join(cwd, 'logs', logs[0]!), 'utf8')).toMatch(/"allowed_ranks"/)
    const state = JSON.parse(readFileSync(join(cwd, 'results/.dryrun_state.json'), 'utf8'))
    expect(Object.keys(state.steps)).toEqual(['18'])
    expect(state.config_path).toBe(join(REPO, 'config/plora.dry.yml'))
    // The user's override file is never written by a pipeline.
    expect(existsSync(join(cwd, 'config/plora.override.yml'))).toBe(false)

    const again = plora(cwd, 'pipeline', 'run', 'dry', '--only', '18')
    expect(again.stderr).toMatch(/\[18\/19\] Dump effective security policy - SKIPPED \(already done\)/)

    const fail = plora(cwd, 'pipeline', 'run', 'dry', '--only', '15')
    expect(fail.status).toBe(1)
    expect(fail.stderr).toContain("FAILED at step 15. Re-run 'make dry-run-lite' to resume.")
    expect(fail.stderr).toMatch(/value_add\.jsonl is missing/)

    // Step 17 without keys or adapters: the signing server cannot start, so the step fails (the
    // original swallowed every gRPC failure) and no server is left behind.
    const grpc = plora(cwd, 'pipeline', 'run', 'dry', '--only', '17')
    expect(grpc.status).toBe(1)
    expect(grpc.stderr).toMatch(/`plora offer .*` stopped before it was ready/)
    expect(grpc.stderr).toContain("FAILED at step 17. Re-run 'make dry-run-lite' to resume.")

    expect(plora(cwd, 'pipeline', 'status', 'dry').stdout).toBe('Completed steps: 1/19\nNext step: 1\n')
    const check = plora(cwd, 'pipeline', 'check', 'dry')
    expect(check.status).toBe(1)
    expect(check.stdout).toMatch(/results\/report\.html missing/)
    expect(check.stdout).toMatch(/results\/value_add\/value_add\.jsonl missing \(step 11/)
    expect(check.stdout).toMatch(/results\/\.dryrun_state\.json: 1\/19 steps current/)

    expect(plora(cwd, 'pipeline', 'reset', 'dry').stdout).toBe(
      'Dry-run state cleared. Next run will start from step 1.\n',
    )
    expect(plora(cwd, 'pipeline', 'status', 'full').stdout).toBe('No experiment in progress (will start from step 1)\n')
    const bad = plora(cwd, 'pipeline', 'run', 'dry', '--only', '20')
    expect(bad.status).toBe(2)
  })

  it('mk/pipeline.mk wraps the CLI (status, reset, artefacts-check exit status)', async () => {
    const work = mkdtempSync(join(tmpdir(), 'plora-pipeline-mk-'))
    await writeFile(join(work, 'Makefile'), `PLORA := node ${BIN}\nbuild: ;\ninclude ${join(REPO, 'mk/pipeline.mk')}\n`)
    // Under `make test` (pipeline step 1, CI) the parent make's MAKEFLAGS/MAKELEVEL would make this
    // one print "Entering directory" lines: run it as a top-level make.
    const { MAKEFLAGS: _f, MFLAGS: _m, MAKELEVEL: _l, ...env } = process.env
    const make = (t: string) =>
      spawnSync('make', ['-s', '--no-print-directory', t], { cwd: work, encoding: 'utf8', env })
    expect(make('dry-run-status').stdout).toBe('No dry-run in progress (will start from step 1)\n')
    expect(make('full-experiment-reset').stdout).toBe('Experiment state cleared. Next run will start from step 1.\n')
    const check = make('artefacts-check')
    expect(check.status).not.toBe(0)
    expect(check.stdout).toMatch(/^artefacts-check: \d+ problem\(s\)/)
  })

  it('says to run make setup, in one line, when the CLI is not built', async () => {
    const fake = mkdtempSync(join(tmpdir(), 'plora-nodist-'))
    await mkdir(join(fake, 'bin'))
    await copyFile(BIN, join(fake, 'bin/plora.js'))
    const r = spawnSync(process.execPath, [join(fake, 'bin/plora.js'), '--help'], { encoding: 'utf8' })
    expect(r.status).toBe(1)
    expect(r.stderr).toBe(
      "plora: the CLI is not built (packages/cli/dist is missing): run 'make setup' (or 'make build') first\n",
    )
  })

  it('the setup filter turns the offline tfjs-node-gpu install failure into one line', () => {
    const input = [
      'Progress: resolved 125, reused 125, downloaded 0, added 125, done',
      '.../@tensorflow/tfjs-node-gpu install$ node scripts/install.js gpu download',
      '.../@tensorflow/tfjs-node-gpu install: * Downloading libtensorflow',
      '.../@tensorflow/tfjs-node-gpu install: Error: getaddrinfo ENOTFOUND storage.googleapis.com',
      '.../@tensorflow/tfjs-node-gpu install:     at GetAddrInfoReqWrap.onlookupall (node:dns:122:26)',
      '.../@tensorflow/tfjs-node-gpu install: Failed',
      'Done in 5.4s',
    ].join('\n')
    const r = spawnSync(process.execPath, [join(REPO, 'scripts/pnpm-install-filter.mjs')], { input, encoding: 'utf8' })
    const lines = r.stdout.trim().split('\n')
    expect(lines).toHaveLength(3)
    expect(lines[2]).toMatch(
      /^\[setup\] optional @tensorflow\/tfjs-node-gpu .* \(Error: getaddrinfo ENOTFOUND storage\.googleapis\.com; offline\?\)/,
    )
    expect(r.stdout).not.toMatch(/\s+at /)
    const ok = spawnSync(process.execPath, [join(REPO, 'scripts/pnpm-install-filter.mjs')], {
      input: '.../@tensorflow/tfjs-node-gpu install: done\nDone\n',
      encoding: 'utf8',
    })
    expect(ok.stdout).toBe('Done\n.../@tensorflow/tfjs-node-gpu install: done\n')
  })
})
