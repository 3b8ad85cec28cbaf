#!/usr/bin/env node
// Builds the optional native kernels of @plora/model (packages/model/native → native/build/
// plora_kernels.node), run by `pnpm run build` and so by `make setup`. Optional by design: with no
// C compiler, no Node headers, on Windows, or with PLORA_NATIVE_KERNELS=off it prints one line and
// exits 0, and plora runs the WebAssembly kernels. Incremental: a stamp (sources, compiler, flags,
// headers) in native/build/info.json skips an up-to-date build. The module is compiled in a
// temporary folder, loaded once to check it, and renamed into place, so a failed or interrupted
// build never leaves a broken addon where plora looks for it.
//
// Env: CC (default cc), PLORA_NATIVE_KERNELS=off (skip), PLORA_NATIVE_REBUILD=1 (ignore the stamp).
// Why no node-gyp: it downloads Node's headers unless they are on disk, and then needs Python; the
// three files here need one compiler call each.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const SRC = join(ROOT, 'packages/model/native')
const OUT_DIR = join(SRC, 'build')
const OUT = join(OUT_DIR, 'plora_kernels.node')
const INFO = join(OUT_DIR, 'info.json')
const say = (msg) => process.stdout.write(`[native] ${msg}\n`)
const fallback = 'plora uses the WebAssembly MatMul kernels'

function headerDir() {
  const prefix = dirname(dirname(process.execPath))
  const candidates = [
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include/node'),
    join(prefix, 'include/node'),
    '/usr/include/node',
    '/usr/local/include/node',
    join(process.env.HOME ?? '', `.cache/node-gyp/${process.versions.node}/include/node`),
  ].filter(Boolean)
  return candidates.find((d) => existsSync(join(d, 'node_api.h')))
}

function main() {
  if ((process.env.PLORA_NATIVE_KERNELS ?? '').trim().toLowerCase() === 'off') {
    say(`skipped (PLORA_NATIVE_KERNELS=off); ${fallback}`)
    return
  }
  if (process.platform === 'win32') {
    say(`not built on Windows; ${fallback}`)
    return
  }
  const include = headerDir()
  if (include === undefined) {
    say(
      `not built: Node's headers (node_api.h) were not found (install Node from nodejs.org or your distribution's nodejs-dev package); ${fallback}`,
    )
    return
  }
  const cc = process.env.CC?.trim() || 'cc'
  let version
  try {
    version = execFileSync(cc, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0]
  } catch {
    say(`not built: no C compiler (${cc}) on PATH (set CC, or install gcc/clang, then run make build); ${fallback}`)
    return
  }
  const x64 = process.arch === 'x64'
  const common = ['-O3', '-fPIC', '-std=gnu11', '-ffp-contract=fast', '-fno-math-errno', '-Wall', '-Wextra']
  // One object per instruction set; the binding picks at load time what the CPU runs.
  const variants = x64
    ? [
        { name: 'generic', flags: [] },
        { name: 'avx2', flags: ['-DPK_ISA_AVX2', '-mavx2', '-mfma'] },
        { name: 'avx512', flags: ['-DPK_ISA_AVX512', '-mavx512f', '-mfma'] },
      ]
    : [{ name: 'generic', flags: [] }]
  const link = process.platform === 'darwin' ? ['-bundle', '-undefined', 'dynamic_lookup'] : ['-shared']
  const sources = ['gemm.h', 'gemm_kernel.c', 'plora_kernels.c'].map((f) => readFileSync(join(SRC, f)))
  const stamp = createHash('sha256').update(
    JSON.stringify({ version, cc, common, variants, link, include, arch: process.arch, abi: process.versions.napi }),
  )
  for (const s of sources) stamp.update(s)
  const digest = stamp.digest('hex')
  if (process.env.PLORA_NATIVE_REBUILD !== '1' && existsSync(OUT) && existsSync(INFO)) {
    try {
      if (JSON.parse(readFileSync(INFO, 'utf8')).stamp === digest) return
    } catch {
      // An unreadable stamp means rebuild.
    }
  }
  const t0 = performance.now()
  mkdirSync(OUT_DIR, { recursive: true })
  const tmp = mkdtempSync(join(OUT_DIR, '.tmp-'))
  try {
    const objects = []
    const run = (args) => execFileSync(cc, args, { cwd: SRC, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    for (const v of variants) {
      const o = join(tmp, `gemm_${v.name}.o`)
      run([...common, ...v.flags, '-c', 'gemm_kernel.c', '-o', o])
      objects.push(o)
    }
    const b = join(tmp, 'plora_kernels.o')
    run([...common, `-I${include}`, '-c', 'plora_kernels.c', '-o', b])
    const mod = join(tmp, 'plora_kernels.node')
    run([...link, '-o', mod, b, ...objects])
    const isas = createRequire(import.meta.url)(mod).isas()
    renameSync(mod, OUT)
    const info = {
      stamp: digest,
      compiler: version,
      arch: process.arch,
      isas_here: isas,
      built: new Date().toISOString(),
    }
    writeFileSync(join(tmp, 'info.json'), `${JSON.stringify(info, null, 2)}\n`)
    renameSync(join(tmp, 'info.json'), INFO)
    say(
      `built ${OUT.slice(ROOT.length + 1)} (${variants.map((v) => v.name).join(', ')}; this CPU runs ${isas.join(', ')}; ${version}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    )
  } catch (e) {
    const err = String(e.stderr || e.message)
      .trim()
      .split('\n')
      .slice(-6)
      .join('\n  ')
    // An addon from older sources may not match the TypeScript that calls it: take it away.
    rmSync(OUT, { force: true })
    rmSync(INFO, { force: true })
    say(`not built: the compiler failed (${cc}):\n  ${err}\n${fallback}`)
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}

main()
