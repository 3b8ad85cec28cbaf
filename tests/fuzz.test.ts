/**
 * A fast seeded subset of the mutation run (bench/fuzz, `make fuzz`; issue 15 "Done when").
 * Every corpus (safetensors, manifest, config, adapter config, env): no crash, nothing wrongly
 * accepted, the entry points agree; the atomic writers leave no partial file when killed and
 * raise a PloraError (nothing left behind) when the destination's parent is a regular file.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { adapterConfigCorpus, configCorpus, envCorpus, setupConfigRoot } from '../bench/fuzz/config.js'
import { type Corpus, type CorpusSummary, runCorpus } from '../bench/fuzz/engine.js'
import { manifestCorpus } from '../bench/fuzz/manifest.js'
import { runPartial } from '../bench/fuzz/partial.js'
import { startPyYaml } from '../bench/fuzz/pyyaml.js'
import { safetensorsCorpus } from '../bench/fuzz/safetensors.js'

const SEED = 15
const scratch = mkdtempSync(join(tmpdir(), 'plora-fuzz-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

async function run(corpus: Corpus, count: number): Promise<CorpusSummary> {
  return runCorpus(corpus, { seed: SEED, count, maxFindings: 5 })
}
const show = (s: CorpusSummary) => JSON.stringify(s.findings.slice(0, 3), null, 1)
/** No crash, nothing wrongly accepted, entry points agree. */
function clean(s: CorpusSummary): void {
  expect(s.classes.crashed, show(s)).toBe(0)
  expect(s.classes.wrongly_accepted, show(s)).toBe(0)
  expect(s.classes.inconsistent, show(s)).toBe(0)
}
// PyYAML (the original's reader) as an extra reference for manifests when python3 has it; the
// oracle's own rules (byte rules, round trips, file vs text) apply either way.
const py = startPyYaml()
afterAll(() => py?.close())

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
    // Writes under a regular file / onto a directory fail with a PloraError, nothing left behind.
    expect(p.errorPaths.otherOutcome, p.details.join('\n')).toBe(0)
    expect(p.errorPaths.leftovers, p.details.join('\n')).toBe(0)
    expect(p.errorPaths.ploraError).toBe(2)
  })

  it('manifest: 300 mutated manifests, none crashes, none is wrongly accepted, file and text agree', async () => {
    const s = await run(manifestCorpus(scratch, py, { light: true }), 300)
    clean(s)
    expect(s.outcomes.accepted).toBeGreaterThan(30)
    expect(s.outcomes.rejected).toBeGreaterThan(100)
  })

  it('manifest: a writer SIGKILLed mid-write leaves the old or the new complete file', async () => {
    const p = await runPartial('manifest', { seed: SEED, kills: 2, dir: scratch })
    expect(p.sigkill, p.details.join('\n')).toBe(2)
    expect(p.partial, p.details.join('\n')).toBe(0)
    // Writes under a regular file / onto a directory fail with a PloraError, nothing left behind.
    expect(p.errorPaths.otherOutcome, p.details.join('\n')).toBe(0)
    expect(p.errorPaths.leftovers, p.details.join('\n')).toBe(0)
  })

  it('adapter_config.json: 300 mutated configs, none crashes, none is wrongly accepted', async () => {
    const s = await run(adapterConfigCorpus(scratch), 300)
    clean(s)
    expect(s.outcomes.accepted).toBeGreaterThan(30)
    expect(s.outcomes.rejected).toBeGreaterThan(100)
  })

  it('plora config: 300 mutated configs, none crashes, none is wrongly accepted, file and text agree', async () => {
    const root = join(scratch, 'config-root')
    setupConfigRoot(root)
    const s = await run(configCorpus(root, { light: true }), 300)
    clean(s)
    expect(s.outcomes.accepted).toBeGreaterThan(30)
    expect(s.outcomes.rejected).toBeGreaterThan(100)
  })

  it('env: integer variables never crash, and each is accepted exactly in its documented range', async () => {
    const s = await run(envCorpus(), 200)
    clean(s)
    expect(s.classes.wrongly_rejected, show(s)).toBe(0)
  })
})
