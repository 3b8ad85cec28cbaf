/**
 * Benchmark (issue 15 point 10, not a test): how long hostile config YAML takes to be refused —
 * the largest file the size limit lets through with a duplicate key at its end, a 100k-key file,
 * and a billion-laughs file. Timings are printed, never asserted.
 *
 * Run: pnpm --filter @plora/config bench   (or: npx vitest run --config packages/config/vitest.bench.config.ts)
 */
import { expect, it } from 'vitest'
import { MAX_CONFIG_BYTES, parseConfigText } from '../../src/index.js'

function keys(n: number): string {
  const parts = ['extends: dry\n']
  for (let i = 0; i < n; i++) parts.push(`key_${i}: ${i}\n`)
  parts.push('key_1: 1\n')
  return parts.join('')
}

function time(label: string, f: () => unknown): void {
  const t = performance.now()
  let code = 'accepted'
  try {
    f()
  } catch (e) {
    code = (e as { code?: string }).code ?? 'crash'
  }
  console.log(`${label.padEnd(64)} ${code.padEnd(24)} ${(performance.now() - t).toFixed(1).padStart(8)} ms`)
}

it('refuses hostile config YAML quickly (timings printed)', () => {
  let n = 1000
  while (Buffer.byteLength(keys(n + 500)) < MAX_CONFIG_BYTES) n += 500
  time(`${n} keys, largest under ${MAX_CONFIG_BYTES} B, duplicate last (cold)`, () => parseConfigText(keys(n), 'f.yml'))
  time('100k keys (size limit)', () => parseConfigText(keys(100_000), 'f.yml'))
  const lines = ['l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]']
  for (let i = 1; i < 9; i++)
    lines.push(
      `l${i}: &l${i} [${Array(9)
        .fill(`*l${i - 1}`)
        .join(', ')}]`,
    )
  time('billion laughs', () => parseConfigText(lines.join('\n'), 'f.yml'))
  expect(() => parseConfigText(lines.join('\n'), 'f.yml')).toThrow(
    expect.objectContaining({ code: 'CONFIG_YAML_INVALID' }),
  )
})
