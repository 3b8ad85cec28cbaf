/**
 * Prints how long `checkAdapter` takes to refuse an r = 4096 adapter of ~33 KB (in = out = 1;
 * issue 15 point 7: the rank policy is checked on the safetensors header before any O(r³) maths),
 * next to a normal r = 4 adapter. Not part of the test run:
 *   pnpm exec tsx --conditions @plora/source packages/gate/test/perf/rank-bomb.ts
 */
import { join } from 'node:path'
import { checkAdapter } from '../../src/check.js'
import { parsePolicy } from '../../src/policy.js'
import { tempDir, writeAdapter } from '../helpers.js'

const tmp = await tempDir('plora-rank-bomb-')
try {
  const bomb = await writeAdapter(join(tmp.path, 'bomb'), {
    seed: 1,
    r: 4096,
    modules: [{ path: 'transformer.h.0.attn.c_attn', inFeatures: 1, outFeatures: 1 }],
  })
  const normal = await writeAdapter(join(tmp.path, 'normal'), { seed: 2 })
  for (const [name, dir, policy] of [
    ['r=4096, allowed_ranks null (max_rank 128)', bomb, parsePolicy({ allowed_ranks: null })],
    ['r=4096, allowed_ranks [4, 8, 16]', bomb, parsePolicy({})],
    ['r=4 normal adapter', normal, parsePolicy({ require_weight_reference: false })],
  ] as const) {
    const t0 = performance.now()
    const d = await checkAdapter(dir, policy, {})
    const ms = performance.now() - t0
    process.stdout.write(
      `${name}: ${ms.toFixed(1)} ms, size ${d.metrics.artifact.size_bytes} B, reasons ${d.reasons.join(',')}\n`,
    )
  }
} finally {
  await tmp.cleanup()
}
