/**
 * A fast seeded subset of the mutation run (bench/fuzz, `make fuzz`; issue 15 "Done when").
 * Safetensors: no crash, nothing wrongly accepted, bytes/file/lazy readers agree, and the atomic
 * writer leaves no partial file when killed. Manifest, config, adapter config and env: only what
 * holds today (see the full run's summary for the rest).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { adapterConfigCorpus, configCorpus, envCorpus, setupConfigRoot } from '../bench/fuzz/config.js'
import { type Corpus, type CorpusSummary, runCorpus } from '../bench/fuzz/engine.js'
import { manifestCorpus } from '../bench/fuzz/manifest.js'
import { runPartial } from '../bench/fuzz/partial.js'
import { safetensorsCorpus } from '../bench/fuzz/safetensors.js'

const SEED = 15
const scratch = mkdtempSync(join(tmpdir(), 'plora-fuzz-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

async function run(corpus: Corpus, count: number): Promise<CorpusSummary> {
  return runCorpus(corpus, { seed: SEED, count, maxFindings: 5 })
}
const show = (s: CorpusSummary) => JSON.stringify(s.findings.slice(0, 3), null, 1)

describe('mutation run (fast subset)', () => {
  it('safetensors: 400 mutated files, none crashes, none is wrongly accepted, all entry points agree', async () => {
    const s = await run(safetensorsCorpus(scratch), 400)
    expect(s.cases).toBe(400)
    expect(s.classes.crashed, show(s)).toBe(0)
    expect(s.classes.wrongly_accepted, show(s)).toBe(0)
    expect(s.classes.inconsistent, show(s)).toBe(0)
    expect(s.classes.wrongly_rejected, show(s)).toBe(0)
    // The subset really exercises both sides.
    expect(s.outcomes.accepted).toBeGreaterThan(20)
    expect(s.outcomes.rejected).toBeGreaterThan(200)
  })

  it('safetensors: a writer SIGKILLed mid-write leaves the old or the new complete file', async () => {
    const p = await runPartial('safetensors', { seed: SEED, kills: 2, dir: scratch })
    expect(p.kills).toBe(2)
    // Each round really ran the writer and was killed by the signal (not an early exit).
    expect(p.sigkill, p.details.join('\n')).toBe(2)
    expect(p.partial, p.details.join('\n')).toBe(0)
    expect(p.destA + p.destB + p.destAbsent).toBe(2)
  })

  it('manifest: 200 mutated manifests, none crashes', async () => {
    const s = await run(manifestCorpus(scratch, null, { light: true }), 200)
    expect(s.classes.crashed, show(s)).toBe(0)
  })

  it('adapter_config.json: 300 mutated configs, none crashes', async () => {
    const s = await run(adapterConfigCorpus(scratch), 300)
    expect(s.classes.crashed, show(s)).toBe(0)
  })

  it('plora config: 300 mutated configs crash only on the known issue-15 §10 inputs', async () => {
    const root = join(scratch, 'config-root')
    setupConfigRoot(root)
    const s = await runCorpus(configCorpus(root, { light: true }), { seed: SEED, count: 300, maxFindings: 300 })
    const crashKinds = new Set(s.findings.filter((f) => f.class === 'crashed').map((f) => f.kind))
    for (const k of crashKinds) expect(['extends:hostile', 'yaml:billion-laughs']).toContain(k)
  })

  it('env: integer variables never crash', async () => {
    const s = await run(envCorpus(), 200)
    expect(s.classes.crashed, show(s)).toBe(0)
  })
})
