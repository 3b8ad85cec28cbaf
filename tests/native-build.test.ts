// scripts/build-native.mjs (README "Native kernels"): optional by design. Without a compiler, or with
// PLORA_NATIVE_KERNELS=off, it says so in one line, exits 0 and leaves the built addon alone; with one
// it is incremental. The CLI names the MatMul path it took.
import { spawnSync } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const REPO = resolve(import.meta.dirname, '..')
const ADDON = join(REPO, 'packages/model/native/build/plora_kernels.node')

function build(env: Record<string, string>) {
  return spawnSync(process.execPath, ['scripts/build-native.mjs'], {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 120_000,
  })
}

describe('native kernel build', () => {
  it('without a compiler: one line naming it, exit 0, an existing addon untouched', () => {
    const before = existsSync(ADDON) ? statSync(ADDON).mtimeMs : undefined
    const r = build({ CC: '/nonexistent/cc', PLORA_NATIVE_REBUILD: '1' })
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout.trim().split('\n')).toHaveLength(1)
    expect(r.stdout).toMatch(
      /\[native\] not built: no C compiler \(\/nonexistent\/cc\) on PATH .*WebAssembly MatMul kernels/,
    )
    expect(existsSync(ADDON) ? statSync(ADDON).mtimeMs : undefined).toBe(before)
  })

  it('PLORA_NATIVE_KERNELS=off skips the build, and a built addon is up to date on a second run', () => {
    const off = build({ PLORA_NATIVE_KERNELS: 'off' })
    expect(off.status).toBe(0)
    expect(off.stdout).toMatch(/\[native\] skipped \(PLORA_NATIVE_KERNELS=off\)/)
    if (existsSync(ADDON)) {
      const before = statSync(ADDON).mtimeMs
      const again = build({})
      expect(again.status, again.stderr).toBe(0)
      expect(again.stdout).toBe('') // stamp unchanged: nothing compiled, nothing printed
      expect(statSync(ADDON).mtimeMs).toBe(before)
    }
  })

  it('the CLI logs which MatMul path the wasm backend took, and refuses an unknown choice', () => {
    const run = (value: string) =>
      spawnSync(
        process.execPath,
        [
          'packages/cli/bin/plora.js',
          'model',
          'nll',
          '--model',
          'embedded',
          '--prompt',
          'What is 2 plus 2?',
          '--answer',
          '4',
          '--json',
        ],
        {
          cwd: REPO,
          encoding: 'utf8',
          env: {
            ...process.env,
            PLORA_BACKEND: 'wasm',
            PLORA_NATIVE_KERNELS: value,
            PLORA_EMBEDDED_MODEL: 'tiny',
            PLORA_LOG_LEVEL: 'info',
          },
          timeout: 120_000,
        },
      )
    const off = run('off')
    expect(off.status, off.stderr).toBe(0)
    expect(JSON.parse(off.stdout).mean_nll).toBeGreaterThan(0)
    expect(off.stderr).toMatch(/TensorFlow\.js backend: wasm \(MatMul: wasm kernels\)/)
    const auto = run('auto')
    expect(auto.status, auto.stderr).toBe(0)
    // The two paths agree to float32 rounding.
    expect(JSON.parse(auto.stdout).mean_nll).toBeCloseTo(JSON.parse(off.stdout).mean_nll, 4)
    expect(auto.stderr).toMatch(
      existsSync(ADDON)
        ? /TensorFlow\.js backend: wasm \(MatMul: native (avx512|avx2|generic)\)/
        : /MatMul: wasm kernels/,
    )
    const bad = run('cuda')
    expect(bad.status).toBe(1)
    expect(bad.stderr).toMatch(/PLORA_NATIVE_KERNELS: expected one of auto, off, avx512, avx2, generic, found "cuda"/)
  })
})
