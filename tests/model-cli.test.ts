// `plora base-model init`, `plora model info`, `plora model nll` and `plora generate`, run
// in-process through the CLI's main() with a temporary plora cache (nothing downloaded).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeSafetensors } from '../packages/safetensors/src/index.js'
import { runCli, useOfflineCliEnv } from './helpers.js'

const run = runCli

const saved = { ...process.env }
let cache: string

beforeAll(() => {
  cache = mkdtempSync(join(tmpdir(), 'plora-model-cli-'))
  // The random embedded model keeps these tests fast; pretraining has its own test below.
  useOfflineCliEnv(cache)
})
afterAll(() => {
  process.env = saved
})

describe('plora base-model / model / generate', () => {
  it('base-model init --steps N pretrains deterministically and records the budget', async () => {
    const out = join(cache, 'pre-a')
    const a = await run('base-model', 'init', '--out', out, '--steps', '2')
    expect(a.code, a.err).toBe(0)
    const marker = JSON.parse(readFileSync(join(out, 'plora_pretrain.json'), 'utf8'))
    expect(marker).toMatchObject({ steps: 2 })
    expect(marker.final_loss).toBeGreaterThan(0)
    const b = await run('base-model', 'init', '--out', join(cache, 'pre-b'), '--steps', '2')
    expect(b.code, b.err).toBe(0)
    expect(
      readFileSync(join(cache, 'pre-b', 'model.safetensors')).equals(readFileSync(join(out, 'model.safetensors'))),
    ).toBe(true)
    const random = await run('base-model', 'init', '--out', join(cache, 'pre-0'), '--steps', '0')
    expect(random.code, random.err).toBe(0)
    expect(
      readFileSync(join(cache, 'pre-0', 'model.safetensors')).equals(readFileSync(join(out, 'model.safetensors'))),
    ).toBe(false)
  })

  it('base-model init writes a deterministic folder and refuses to overwrite without --force', async () => {
    const out = join(cache, 'init-a')
    const a = await run('base-model', 'init', '--out', out, '--seed', '5')
    expect(a.code, a.err).toBe(0)
    expect(a.out.trim()).toBe(out)
    for (const f of [
      'config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
      'generation_config.json',
    ]) {
      expect(existsSync(join(out, f)), f).toBe(true)
    }
    const again = await run('base-model', 'init', '--out', out)
    expect(again.code).toBe(1)
    expect(again.err).toContain('[CLI_OUTPUT_EXISTS]')
    const b = await run('base-model', 'init', '--out', join(cache, 'init-b'), '--seed', '5')
    expect(b.code, b.err).toBe(0)
    expect(
      readFileSync(join(cache, 'init-b', 'model.safetensors')).equals(readFileSync(join(out, 'model.safetensors'))),
    ).toBe(true)
  })

  it('model info describes the embedded model and its LoRA targets per scheme', async () => {
    const r = await run('model', 'info', '--json')
    expect(r.code, r.err).toBe(0)
    const info = JSON.parse(r.out)
    expect(info).toMatchObject({ family: 'gpt2', layers: 4, hiddenSize: 128, context: 256, vocabSize: 512 })
    expect(info.parameters).toBeGreaterThan(800_000)
    expect(info.targets.attention.suffixes).toEqual(['c_attn', 'c_proj'])
    expect(info.targets.attention.paths).toBe(8)
    expect(info.targets.mlp.suffixes).toEqual(['c_fc', 'c_proj'])
    // The embedded model was created in the plora cache on first use.
    expect(info.modelDir.startsWith(cache)).toBe(true)
    const text = await run('model', 'info', 'embedded')
    expect(text.out).toContain('LoRA targets:')
  })

  it('model nll prints per-token NLLs of the answer only', async () => {
    const r = await run('model', 'nll', '--prompt', 'What is 2 plus 2?', '--answer', 'It is 4.', '--json')
    expect(r.code, r.err).toBe(0)
    const j = JSON.parse(r.out)
    expect(j.tokens.join('')).toBe(' It is 4.')
    expect(j.token_nlls.length).toBe(j.tokens.length)
    expect(j.mean_nll).toBeCloseTo(j.token_nlls.reduce((a: number, b: number) => a + b, 0) / j.token_nlls.length, 9)
    // Random init: near-uniform over 512 tokens, ln 512 ≈ 6.24.
    expect(j.mean_nll).toBeGreaterThan(4)
  })

  it('model nll --adapter applies a PEFT adapter for the call and leaves the base untouched', async () => {
    // A PEFT-layout adapter written by hand: rank 4 on every attn.c_attn (128 → 384), non-zero B.
    const dir = join(cache, 'adapter')
    mkdirSync(dir)
    const r = 4
    const tensors: Array<[string, { dtype: 'F32'; shape: number[]; data: Float32Array }]> = []
    let k = 1
    const fill = (n: number) => Float32Array.from({ length: n }, () => Math.sin(k++ * 12.9898) * 0.2)
    for (let i = 0; i < 4; i++) {
      const p = `base_model.model.transformer.h.${i}.attn.c_attn`
      tensors.push([`${p}.lora_A.weight`, { dtype: 'F32', shape: [r, 128], data: fill(r * 128) }])
      tensors.push([`${p}.lora_B.weight`, { dtype: 'F32', shape: [384, r], data: fill(384 * r) }])
    }
    writeFileSync(join(dir, 'adapter_model.safetensors'), encodeSafetensors(tensors, { format: 'pt' }))
    writeFileSync(
      join(dir, 'adapter_config.json'),
      JSON.stringify({
        peft_type: 'LORA',
        task_type: 'CAUSAL_LM',
        r,
        lora_alpha: 8,
        lora_dropout: 0,
        target_modules: ['c_attn'],
        fan_in_fan_out: true,
        bias: 'none',
        use_rslora: false,
        base_model_name_or_path: 'embedded',
      }),
    )
    const args = ['model', 'nll', '--prompt', 'What is 2 plus 2?', '--answer', 'It is 4.', '--json']
    const base = JSON.parse((await run(...args)).out)
    const adapted = await run(...args, '--adapter', dir)
    expect(adapted.code, adapted.err).toBe(0)
    expect(Math.abs(JSON.parse(adapted.out).mean_nll - base.mean_nll)).toBeGreaterThan(1e-4)
    expect(JSON.parse((await run(...args)).out).token_nlls).toEqual(base.token_nlls)
  })

  it('generate continues a prompt deterministically', async () => {
    const a = await run('generate', '--prompt', 'Question: hi\nAnswer:', '--max-new-tokens', '5', '--json')
    const b = await run('generate', '--prompt', 'Question: hi\nAnswer:', '--max-new-tokens', '5', '--json')
    expect(a.code, a.err).toBe(0)
    const ja = JSON.parse(a.out)
    expect(ja.token_ids.length).toBeLessThanOrEqual(5)
    expect(JSON.parse(b.out)).toEqual(ja)
  })

  it('fails with a clear error for a model missing from the offline cache', async () => {
    const r = await run('model', 'info', 'org/not-cached')
    expect(r.code).toBe(1)
    expect(r.err).toContain('[MODEL_HUB_OFFLINE]')
  })
})
