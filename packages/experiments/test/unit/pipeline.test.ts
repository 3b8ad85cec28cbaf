import { mkdtempSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  configValueAt,
  hashPath,
  type PipelineConfig,
  type PipelineStep,
  pipelineStatus,
  pipelineSteps,
  readPipelineState,
  resetPipeline,
  runPipeline,
  statePath,
  stepFingerprint,
  TOTAL_STEPS,
} from '../../src/pipeline.js'

const CONFIG: PipelineConfig & { base_model: string; train: { lr: number } } = {
  base_model: 'embedded',
  train: { lr: 0.0002 },
  domains: ['arithmetic', 'legal'],
  samples: 4,
  allowed_ranks: [1],
  graph: { p: 0.3 },
  swarm: { trojan_rate: 0.3, quorum: 2 },
  value_add: { ranks: [1], schemes: ['attention'], seeds: [41] },
  alt_train_merge: { cycles: 1, samples: 4, rank: 1 },
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'plora-pipeline-'))
}

/** Stand-ins for every step: write the step's declared outputs (counted per step in `calls`). */
function standIns(calls: number[], fail: Set<number> = new Set()): Record<number, Partial<PipelineStep>> {
  const out: Record<number, Partial<PipelineStep>> = {}
  for (const s of pipelineSteps('dry', CONFIG)) {
    out[s.k] = {
      action: async (ctx) => {
        calls.push(s.k)
        if (fail.has(s.k)) throw new Error(`forced failure of step ${s.k}`)
        for (const o of s.outputs) {
          await mkdir(dirname(join(ctx.cwd, o)), { recursive: true })
          await writeFile(join(ctx.cwd, o), `step ${s.k}\n`)
        }
      },
    }
  }
  return out
}

function options(cwd: string, overrides: Record<number, Partial<PipelineStep>>, config: PipelineConfig = CONFIG) {
  const configPath = join(cwd, 'plora.ci.yml')
  return {
    name: 'dry' as const,
    cwd,
    repoRoot: cwd,
    config,
    configPath,
    plora: [process.execPath, '-e', 'process.exit(9)'],
    hasCommand: () => true,
    overrides,
    report: false,
    echo: () => {},
  }
}

describe('step fingerprints', () => {
  it('change with the step’s config fields and input contents only', async () => {
    const cwd = tmp()
    const steps = pipelineSteps('dry', CONFIG)
    const sign = steps.find((s) => s.k === 7)!
    const sweep = steps.find((s) => s.k === 12)!
    expect(sign.inputs).toContain('out/legal/adapter_model.safetensors')
    const a = await stepFingerprint(sweep, CONFIG, cwd)
    expect(a.inputs['results/c_calib_er.json']).toBe('missing')
    // An unrelated field (samples) leaves the sweep's hash alone; graph.p changes it.
    expect((await stepFingerprint(sweep, { ...CONFIG, samples: 99 }, cwd)).hash).toBe(a.hash)
    const p2 = pipelineSteps('dry', { ...CONFIG, graph: { p: 0.5 } }).find((s) => s.k === 12)!
    expect((await stepFingerprint(p2, { ...CONFIG, graph: { p: 0.5 } }, cwd)).hash).not.toBe(a.hash)
    await mkdir(join(cwd, 'results'), { recursive: true })
    await writeFile(join(cwd, 'results/c_calib_er.json'), '{"C": 1}')
    const b = await stepFingerprint(sweep, CONFIG, cwd)
    expect(b.hash).not.toBe(a.hash)
    await writeFile(join(cwd, 'results/c_calib_er.json'), '{"C": 2}')
    expect((await stepFingerprint(sweep, CONFIG, cwd)).hash).not.toBe(b.hash)
  })

  it('hash folders by names and contents', async () => {
    const cwd = tmp()
    await mkdir(join(cwd, 'd/sub'), { recursive: true })
    await writeFile(join(cwd, 'd/a'), 'x')
    await writeFile(join(cwd, 'd/sub/b'), 'y')
    const h = await hashPath(join(cwd, 'd'))
    await writeFile(join(cwd, 'd/sub/b'), 'z')
    expect(await hashPath(join(cwd, 'd'))).not.toBe(h)
    expect(await hashPath(join(cwd, 'nope'))).toBe('missing')
    expect(configValueAt(CONFIG, 'graph.p')).toBe(0.3)
    expect(configValueAt(CONFIG, 'graph.q')).toBeUndefined()
  })
})

describe('runPipeline (stand-in steps)', () => {
  it('runs 19 steps, then skips them all; an input change re-runs the step and its dependents', async () => {
    const cwd = tmp()
    await writeFile(join(cwd, 'plora.ci.yml'), 'samples: 4\n')
    const calls: number[] = []
    const first = await runPipeline(options(cwd, standIns(calls)))
    expect(first.ok).toBe(true)
    expect(calls).toEqual(Array.from({ length: TOTAL_STEPS }, (_, i) => i + 1))
    const state = await readPipelineState(statePath('dry', cwd))
    expect(Object.keys(state!.steps)).toHaveLength(TOTAL_STEPS)
    const log = await readFile(first.logFile, 'utf8')
    expect(log).toMatch(/\[7\/19\] Signing adapters/)
    expect(first.logFile).toMatch(/logs\/dry-run-lite-\d{8}-\d{6}\.log$/)

    calls.length = 0
    const second = await runPipeline(options(cwd, standIns(calls)))
    expect(second.ok).toBe(true)
    expect(calls).toEqual([])
    expect(second.skipped).toHaveLength(TOTAL_STEPS)
    expect((await pipelineStatus({ name: 'dry', cwd, config: CONFIG })).lines).toEqual([
      'Completed steps: 19/19',
      'Dry-run complete!',
    ])

    // Step 6's adapter changes (as if retrained elsewhere): 7 reads it; 8, 16, 17 read 7; 9, 19 read 8.
    await writeFile(join(cwd, 'out/legal/adapter_model.safetensors'), 'changed')
    const status = await pipelineStatus({ name: 'dry', cwd, config: CONFIG })
    expect(status.next).toBe(7)
    expect(status.lines.join('\n')).toMatch(/step 7 .* input changed \(out\/legal\/adapter_model\.safetensors\)/)
    expect(status.steps.filter((s) => !s.done).map((s) => s.k)).toEqual([7, 8, 9, 16, 17, 19])
    const third = await runPipeline(options(cwd, standIns(calls)))
    expect(third.ok).toBe(true)
    expect(calls).toEqual([7, 8, 9, 16, 17, 19])

    // A config change re-runs exactly the steps that read that field (and their dependents).
    calls.length = 0
    await runPipeline(options(cwd, standIns(calls), { ...CONFIG, graph: { p: 0.5 } }))
    expect(calls).toEqual([3, 4, 8, 9, 12, 16, 19])
  })

  it('stops at a failing step with the resume hint, and the next run resumes there', async () => {
    const cwd = tmp()
    await writeFile(join(cwd, 'plora.ci.yml'), 'samples: 4\n')
    const calls: number[] = []
    const r = await runPipeline(options(cwd, standIns(calls, new Set([11]))))
    expect(r.ok).toBe(false)
    expect(r.failedStep).toBe(11)
    expect(r.failedMessage).toBe("FAILED at step 11. Re-run 'make dry-run-lite' to resume.")
    expect(calls.at(-1)).toBe(11)
    expect(await readFile(r.logFile, 'utf8')).toContain('forced failure of step 11')
    expect((await pipelineStatus({ name: 'dry', cwd, config: CONFIG })).lines).toEqual([
      'Completed steps: 10/19',
      'Next step: 11',
    ])
    calls.length = 0
    const again = await runPipeline(options(cwd, standIns(calls)))
    expect(again.ok).toBe(true)
    expect(calls).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19])
    expect(await resetPipeline('dry', cwd)).toBe('Dry-run state cleared. Next run will start from step 1.')
    expect((await pipelineStatus({ name: 'dry', cwd, config: CONFIG })).lines).toEqual([
      'No dry-run in progress (will start from step 1)',
    ])
  })

  it('fails a step whose plora command is missing with a "not available" error, and --skip leaves steps out', async () => {
    const cwd = tmp()
    await writeFile(join(cwd, 'plora.ci.yml'), 'samples: 4\n')
    const calls: number[] = []
    const overrides = standIns(calls)
    const o = { ...options(cwd, overrides), hasCommand: (c: string) => c !== 'ablation' }
    // Step 13 keeps its real `requires: 'ablation'` when its stand-in does not replace it.
    const real = pipelineSteps('dry', CONFIG).find((s) => s.k === 13)!
    o.overrides = { ...overrides, 13: { action: overrides[13]!.action!, requires: real.requires! } }
    const lines: string[] = []
    const r = await runPipeline({ ...o, skip: [1, 2], echo: (t) => lines.push(t) })
    expect(r.ok).toBe(false)
    expect(r.failedStep).toBe(13)
    expect(r.error).toMatch(/needs `plora ablation`, which is not available in this build/)
    expect(calls).not.toContain(1)
    expect(lines.join('')).toMatch(/\[1\/19\] .* - SKIPPED \(left out by --skip\/--only\)/)
    const state = await readPipelineState(statePath('dry', cwd))
    expect(state!.steps['1']).toBeUndefined()
    expect(state!.steps['12']).toBeDefined()
  })

  it('on SIGTERM stops the running step’s child, fails that step, and forgets its old record', async () => {
    const cwd = tmp()
    await writeFile(join(cwd, 'plora.ci.yml'), 'samples: 4\n')
    const calls: number[] = []
    expect((await runPipeline(options(cwd, standIns(calls)))).ok).toBe(true)
    // Step 12 must re-run (its input changed); its command hangs until the runner is signalled.
    await writeFile(join(cwd, 'results/c_calib_er.json'), '{"changed": true}')
    const overrides = standIns(calls)
    overrides[12] = {
      action: async (ctx) => {
        setTimeout(() => process.emit('SIGTERM', 'SIGTERM'), 300)
        // A child that never exits by itself: only the runner's SIGTERM ends it (the test's timeout
        // would catch a runner that waited for it instead).
        await ctx.run({ argv: [process.execPath, '-e', 'setInterval(() => {}, 1000)'] })
      },
    }
    const r = await runPipeline(options(cwd, overrides))
    expect(r.ok).toBe(false)
    expect(r.failedStep).toBe(12)
    expect(r.error).toMatch(/killed by SIGTERM/)
    const state = await readPipelineState(statePath('dry', cwd))
    expect(state!.steps['12']).toBeUndefined()
    expect(state!.steps['11']).toBeDefined()
    expect(process.listenerCount('SIGTERM')).toBe(0)
  })

  it('starts the command afresh (fresh args) only when the step re-runs for a config change', async () => {
    const cwd = tmp()
    await writeFile(join(cwd, 'plora.ci.yml'), 'samples: 4\n')
    const calls: number[] = []
    const file = join(cwd, 'argv.txt')
    const script = `require('fs').appendFileSync(${JSON.stringify(file)}, process.argv.slice(1).join(' ') + '|')`
    const withSweep = (config: PipelineConfig) => {
      const o = standIns(calls)
      const real = pipelineSteps('dry', config).find((s) => s.k === 12)!
      const { action: _a, ...rest } = o[12]!
      o[12] = { ...rest, outputs: [], commands: [{ argv: [process.execPath, '-e', script, '--'] }], fresh: real.fresh! }
      return o
    }
    const r1 = await runPipeline(options(cwd, withSweep(CONFIG)))
    expect(r1.ok, r1.error).toBe(true)
    // An input change: the sweep resumes its own file.
    await writeFile(join(cwd, 'results/c_calib_er.json'), '{"changed": true}')
    expect((await runPipeline(options(cwd, withSweep(CONFIG)))).ok).toBe(true)
    // A config change (graph.p): it starts over.
    const g = { ...CONFIG, graph: { p: 0.5 } }
    const r3 = await runPipeline(options(cwd, withSweep(g), g))
    expect(r3.ok, r3.error).toBe(true)
    expect(await readFile(file, 'utf8')).toBe('||--resume off|')
  })

  it('refuses a state file it did not write instead of starting over silently', async () => {
    const cwd = tmp()
    await mkdir(join(cwd, 'results'), { recursive: true })
    await writeFile(statePath('dry', cwd), '7\n')
    await expect(readPipelineState(statePath('dry', cwd))).rejects.toThrow(/not a plora pipeline state file/)
  })
})
