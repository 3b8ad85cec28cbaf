/**
 * KSG timing (issue 9): n = 1,000, 10,000 and 100,000 bivariate Gaussian samples, 2-D joint
 * (1-D X and Y), k = 5, algorithm 1 with jitter. Target: n = 100,000 under 5 s on the dev machine.
 * Also prints the calibration table (mean of 10 seeds at n = 10,000) for the report.
 * Run: `pnpm --filter @plora/it-estimators bench` or `make bench-it`.
 */
import { createRng } from '@plora/common'
import { bench, describe } from 'vitest'
import { ksgMutualInformation } from '../../src/index.js'

function pair(rho: number, n: number, seed: number): { x: Float64Array; y: Float64Array } {
  const rng = createRng(seed)
  const x = new Float64Array(n)
  const y = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    x[i] = rng.gauss(0, 1)
    y[i] = rho * x[i]! + Math.sqrt(1 - rho * rho) * rng.gauss(0, 1)
  }
  return { x, y }
}

const rows: string[] = []
for (const rho of [0, 0.3, 0.6, 0.9]) {
  const truth = -0.5 * Math.log(1 - rho * rho)
  let s = 0
  for (let seed = 0; seed < 10; seed++) {
    const { x, y } = pair(rho, 10_000, 100 + seed)
    s += ksgMutualInformation(x, y)
  }
  rows.push(
    `rho=${rho} truth=${truth.toFixed(4)} mean(10 seeds)=${(s / 10).toFixed(4)} error=${(s / 10 - truth).toFixed(4)}`,
  )
}
console.log(`KSG calibration, n = 10,000, k = 5:\n  ${rows.join('\n  ')}`)

describe('KSG mutual information, 2-D joint, k = 5', () => {
  for (const n of [1_000, 10_000, 100_000]) {
    const { x, y } = pair(0.6, n, 1)
    bench(
      `n = ${n}`,
      () => {
        ksgMutualInformation(x, y)
      },
      { iterations: n >= 100_000 ? 3 : 10, time: 0, warmupIterations: 1 },
    )
  }
})
