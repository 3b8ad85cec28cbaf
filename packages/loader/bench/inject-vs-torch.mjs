#!/usr/bin/env node
/**
 * Issue 21 benchmark against the PyTorch reference, in one run (build first: `pnpm run build`).
 *
 * (A) inject + remove of rank-8 adapters on all 12 `c_attn` weights of a GPT-2-small-shaped model
 *     (Conv1D [768, 2304]) with `injectAdapters(...).remove()` on TensorFlow.js' wasm backend (one
 *     thread), against torch doing `W.addmm_(L, R, alpha=s)` then `W.addmm_(L, R, alpha=-s)` in
 *     place on the same shapes (torch.set_num_threads(1)).
 * (B) merge + re-projection of 3 rank-8 adapters to rank 8 for one 2304×768 module (`planMerge`),
 *     against numpy (float64) doing the same factor-space route: stack, QR of B and Aᵀ, SVD of the
 *     24×24 core, products back.
 *
 * Samples are interleaved (ours, reference, ours, …) so both see the same machine load; each
 * sample is the median of a few repetitions, and the report gives medians, minima and the median
 * of paired ratios, for wall time and for CPU time (user + system of each process: on a shared
 * machine it leaves out the time spent waiting for a core).
 *
 * Usage: node packages/loader/bench/inject-vs-torch.mjs [--samples N] [--python /usr/bin/python3] [--native auto|off|avx512|avx2|generic]
 */
import { spawn } from 'node:child_process'
import { loadavg } from 'node:os'
import { createInterface } from 'node:readline'

function flag(name, fallback) {
  const i = process.argv.indexOf(name)
  if (i < 0) return fallback
  const value = process.argv[i + 1]
  if (value === undefined) throw new Error(`${name} needs a value`)
  return value
}
const SAMPLES = Number.parseInt(flag('--samples', '15'), 10)
if (!Number.isInteger(SAMPLES) || SAMPLES < 1) throw new Error(`--samples must be a positive integer`)
const PYTHON = flag('--python', '/usr/bin/python3')

const NATIVE = flag('--native', 'auto')
const tf = await import('@tensorflow/tfjs-core')
// plora's own backend set-up: wasm, one thread, and the native GEMM addon where it is built
// (`--native off` measures the WebAssembly kernels alone).
const { initBackend, activeNativeKernels } = await import('@plora/model')
await initBackend({ backend: 'wasm', nativeKernels: NATIVE })
tf.env().set('IS_TEST', true)
const { injectAdapters, planMerge } = await import('../dist/index.js')
const { createRng } = await import('@plora/common')

const D = 768
const OUT = 3 * D
const LAYERS = 12
const RANK = 8
const SCALE = 2
const rng = createRng(0)
const gauss = (n, sigma) => {
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = rng.gauss(0, sigma)
  return out
}
const modules = Array.from({ length: LAYERS }, (_, l) => ({
  path: `transformer.h.${l}.attn.c_attn`,
  inFeatures: D,
  outFeatures: OUT,
  conv1d: true,
}))
const params = new Map(
  modules.map((m) => [`${m.path}.weight`, tf.variable(tf.tensor2d(gauss(D * OUT, 0.02), [D, OUT]))]),
)
const host = { params, linearModules: () => modules }
const adapter = () => ({
  modules: new Map(
    modules.map((m) => [
      m.path,
      {
        path: m.path,
        rank: RANK,
        inFeatures: D,
        outFeatures: OUT,
        a: gauss(RANK * D, 0.02),
        b: gauss(OUT * RANK, 0.02),
        scale: SCALE,
      },
    ]),
  ),
})
const one = adapter()
const three = [adapter(), adapter(), adapter()]
const oneModule = three.map((a, i) => ({
  name: `a${i}`,
  modules: new Map([[modules[0].path, a.modules.get(modules[0].path)]]),
}))

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const h = s.length >> 1
  return s.length % 2 === 1 ? s[h] : (s[h - 1] + s[h]) / 2
}
/** Median wall and CPU (user + system, this process) milliseconds per call over `reps` calls. */
const sample = (fn, reps) => {
  const wall = []
  const cpu = []
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage()
    const start = performance.now()
    fn()
    wall.push(performance.now() - start)
    const c = process.cpuUsage(c0)
    cpu.push((c.user + c.system) / 1000)
  }
  return { wall: median(wall), cpu: median(cpu) }
}

const PY = `
import sys, time, numpy as np, torch
torch.set_num_threads(1)
D, OUT, LAYERS, R, S = 768, 2304, 12, 8, 2.0
g = torch.Generator().manual_seed(0)
W = [torch.randn(D, OUT, generator=g) * 0.02 for _ in range(LAYERS)]
L = [torch.randn(D, R, generator=g) * 0.02 for _ in range(LAYERS)]
Rt = [torch.randn(R, OUT, generator=g) * 0.02 for _ in range(LAYERS)]
rs = np.random.default_rng(0)
Bs = [rs.normal(0, 0.02, (OUT, R)) * S for _ in range(3)]
As = [rs.normal(0, 0.02, (R, D)) for _ in range(3)]
def inject_remove():
    for w, l, r in zip(W, L, Rt): w.addmm_(l, r, alpha=S)
    for w, l, r in zip(W, L, Rt): w.addmm_(l, r, alpha=-S)
def reproject():
    c = 1.0 / 3
    B = np.concatenate([b * c for b in Bs], axis=1); A = np.concatenate(As, axis=0)
    qb, rb = np.linalg.qr(B); qa, ra = np.linalg.qr(A.T)
    u, s, vt = np.linalg.svd(rb @ ra.T)
    root = np.sqrt(s[:R])
    return (qb @ u[:, :R]) * root, (root[:, None] * (vt[:R] @ qa.T))
def sample(fn, reps):
    t, c = [], []
    for _ in range(reps):
        c0 = time.process_time(); s = time.perf_counter(); fn()
        t.append((time.perf_counter() - s) * 1e3); c.append((time.process_time() - c0) * 1e3)
    t.sort(); c.sort(); return f"{t[len(t) // 2]} {c[len(c) // 2]}"
for _ in range(3): inject_remove(); reproject()
for line in sys.stdin:
    cmd = line.strip()
    if cmd == 'A': print(sample(inject_remove, 5), flush=True)
    elif cmd == 'B': print(sample(reproject, 9), flush=True)
    elif cmd == 'V': print(torch.__version__, np.__version__, flush=True)
`
// One thread for every BLAS the reference may load (numpy's OpenBLAS threads otherwise spin after
// each call and take the other core from both sides).
const oneThread = { OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', MKL_NUM_THREADS: '1' }
const py = spawn(PYTHON, ['-c', PY], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...oneThread } })
const lines = createInterface({ input: py.stdout })[Symbol.asyncIterator]()
const ask = async (cmd) => {
  py.stdin.write(`${cmd}\n`)
  const { value, done } = await lines.next()
  if (done) throw new Error(`${PYTHON} exited (is torch installed there?)`)
  return value
}

const [torchVersion, numpyVersion] = (await ask('V')).split(' ')
for (let i = 0; i < 3; i++) {
  injectAdapters(host, [one]).remove()
  planMerge(oneModule, { reprojectRank: RANK })
}
const oursA = []
const torchA = []
const oursB = []
const numpyB = []
process.stderr.write(`${SAMPLES} interleaved samples `)
for (let s = 0; s < SAMPLES; s++) {
  const parse = (line) => {
    const [wall, cpu] = line.split(' ').map(Number)
    return { wall, cpu }
  }
  oursA.push(sample(() => injectAdapters(host, [one]).remove(), 5))
  torchA.push(parse(await ask('A')))
  oursB.push(sample(() => planMerge(oneModule, { reprojectRank: RANK }), 9))
  numpyB.push(parse(await ask('B')))
  process.stderr.write('.')
}
process.stderr.write('\n')
py.stdin.end()

const load = loadavg()
  .map((x) => x.toFixed(2))
  .join(' ')
const report = (title, ours, ref, refName, target) => {
  console.log(title)
  for (const kind of ['wall', 'cpu']) {
    const o = ours.map((x) => x[kind])
    const r = ref.map((x) => x[kind])
    const mo = median(o)
    const mr = median(r)
    // Paired: each of our samples against the reference sample taken right after it.
    const paired = median(o.map((x, i) => r[i] / x))
    console.log(
      `    ${kind === 'wall' ? 'wall' : 'cpu '}: ours ${mo.toFixed(2)} ms (min ${Math.min(...o).toFixed(2)}), ${refName} ${mr.toFixed(2)} ms (min ${Math.min(...r).toFixed(2)}); ${refName}/ours ${(mr / mo).toFixed(2)}× of medians, ${paired.toFixed(2)}× paired, ${(Math.min(...r) / Math.min(...o)).toFixed(2)}× of minima${target(mo)}`,
    )
  }
  console.log(`    ours wall per sample: ${ours.map((x) => x.wall.toFixed(2)).join(' ')}`)
  console.log(`    ${refName} wall per sample: ${ref.map((x) => x.wall.toFixed(2)).join(' ')}`)
}
console.log(
  `backend ${tf.getBackend()} (1 thread, MatMul: ${activeNativeKernels() === 'off' ? 'wasm kernels' : `native ${activeNativeKernels()}`}; inject: the wasm rank-update kernel), torch ${torchVersion} (1 thread), numpy ${numpyVersion}; ${SAMPLES} samples; load average ${load}`,
)
report(
  `(A) inject + remove, rank ${RANK}, ${LAYERS} × c_attn [${D}, ${OUT}] (target: torch/ours ≥ 1):`,
  oursA,
  torchA,
  'torch addmm_',
  () => '',
)
report(
  `(B) merge + re-projection of 3 × rank ${RANK} to rank ${RANK}, one [${OUT}, ${D}] module (target ≤ 5 ms):`,
  oursB,
  numpyB,
  'numpy QR+SVD',
  (ms) => (ms <= 5 ? ' — within 5 ms' : ' — above 5 ms'),
)
