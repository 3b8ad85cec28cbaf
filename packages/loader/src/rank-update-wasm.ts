/**
 * A fused rank-r weight update `out = W + L·R` as a tiny hand-assembled WebAssembly SIMD kernel
 * that works directly on TensorFlow.js' wasm heap (issue 21).
 *
 * `tf.add(W, tf.matMul(L, R))` on the wasm backend allocates and writes the `rows×cols` product and
 * then reads it back for the add; for a rank-8 update of a 768×2304 weight both passes are memory
 * bound. This kernel reads `W` once and writes `out` once, keeping a 4×8 tile of accumulators in
 * registers while it streams the (small, cache-resident) packed factors.
 *
 * Layout the kernel expects (the packers below produce it, all float32, byte addresses):
 * - `W`, `out`: `rows×cols` row-major;
 * - `lp`: `L` (`rows×rank` row-major) packed per block of 4 rows: `[rows/4][rank][4]`;
 * - `rp`: `R` (`rank×cols` row-major) packed per block of 8 columns: `[cols/8][rank][8]`.
 * Requirements: `rows % 4 = 0`, `cols % 8 = 0`, `rank ≥ 1` ({@link rankUpdateSupported}).
 * Accumulation is float32 in `k` order: `((W + l₀r₀) + l₁r₁) + …`.
 */

/** True when {@link RankUpdateKernel} handles these dimensions. */
export function rankUpdateSupported(rows: number, cols: number, rank: number): boolean {
  return rows >= TILE_ROWS && rows % TILE_ROWS === 0 && cols >= TILE_COLS && cols % TILE_COLS === 0 && rank >= 1
}

/**
 * The register tile: 4 rows × 2 float32x4 vectors (8 accumulators, 2 `R` vectors and one splat in
 * the 16 xmm registers). Measured on 768×2304 against 1×8, 2×4, 1×4, 2×2, 4×1 and 3×2 tiles (all
 * slower, 1.1–2.2×); unrolling the k loop by 2, 4 or fully was slower too (1.2–3×: V8 spills).
 */
const TILE_ROWS = 4
/** float32x4 vectors per tile row. */
const TILE_VECS = 2
const TILE_COLS = 4 * TILE_VECS

/**
 * Writes column `k` of `L`, `L[row, k] = scale · src[base + row·stride]`, into the packed left factor
 * (strided source: the factors arrive in PEFT's orientation, not the stored weight's).
 */
export function packLeftColumn(
  packed: Float32Array,
  k: number,
  rank: number,
  rows: number,
  src: ArrayLike<number>,
  base: number,
  stride: number,
  scale: number,
): void {
  let from = base
  for (let b = 0; b < rows; b += TILE_ROWS) {
    const at = ((b / TILE_ROWS) * rank + k) * TILE_ROWS
    for (let t = 0; t < TILE_ROWS; t++) {
      packed[at + t] = src[from]! * scale
      from += stride
    }
  }
}

/** Writes row `k` of `R`, `R[k, col] = scale · src[base + col·stride]`, into the packed right factor. */
export function packRightRow(
  packed: Float32Array,
  k: number,
  rank: number,
  cols: number,
  src: ArrayLike<number>,
  base: number,
  stride: number,
  scale: number,
): void {
  let from = base
  for (let j = 0; j < cols; j += TILE_COLS) {
    const at = ((j / TILE_COLS) * rank + k) * TILE_COLS
    for (let c = 0; c < TILE_COLS; c++) {
      packed[at + c] = src[from]! * scale
      from += stride
    }
  }
}

/** Packs row-major `L [rows, rank]` as `[rows/TILE_ROWS][rank][TILE_ROWS]`. */
export function packLeft(left: ArrayLike<number>, rows: number, rank: number): Float32Array {
  const out = new Float32Array(rows * rank)
  let o = 0
  for (let b = 0; b < rows; b += TILE_ROWS) {
    for (let k = 0; k < rank; k++) {
      for (let t = 0; t < TILE_ROWS; t++) out[o++] = left[(b + t) * rank + k]!
    }
  }
  return out
}

/** Packs row-major `R [rank, cols]` as `[cols/TILE_COLS][rank][TILE_COLS]`. */
export function packRight(right: ArrayLike<number>, rank: number, cols: number): Float32Array {
  const out = new Float32Array(rank * cols)
  let o = 0
  for (let j = 0; j < cols; j += TILE_COLS) {
    for (let k = 0; k < rank; k++) {
      const base = k * cols + j
      for (let c = 0; c < TILE_COLS; c++) out[o++] = right[base + c]!
    }
  }
  return out
}

/** Inverse of {@link packLeft}: row-major `L [rows, rank]`. */
export function unpackLeft(packed: Float32Array, rows: number, rank: number): Float32Array {
  const out = new Float32Array(rows * rank)
  let o = 0
  for (let b = 0; b < rows; b += TILE_ROWS) {
    for (let k = 0; k < rank; k++) {
      for (let t = 0; t < TILE_ROWS; t++) out[(b + t) * rank + k] = packed[o++]!
    }
  }
  return out
}

/** Inverse of {@link packRight}: row-major `R [rank, cols]`. */
export function unpackRight(packed: Float32Array, rank: number, cols: number): Float32Array {
  const out = new Float32Array(rank * cols)
  let o = 0
  for (let j = 0; j < cols; j += TILE_COLS) {
    for (let k = 0; k < rank; k++) {
      const base = k * cols + j
      for (let c = 0; c < TILE_COLS; c++) out[base + c] = packed[o++]!
    }
  }
  return out
}

/** `update(out, w, lp, rp, rows, cols, rank)`, all byte addresses / counts as i32. */
export type RankUpdateKernel = (
  out: number,
  w: number,
  lp: number,
  rp: number,
  rows: number,
  cols: number,
  rank: number,
) => void

// --- a minimal WebAssembly encoder -------------------------------------------------------------

function uleb(n: number): number[] {
  const out: number[] = []
  do {
    let byte = n & 0x7f
    n >>>= 7
    if (n !== 0) byte |= 0x80
    out.push(byte)
  } while (n !== 0)
  return out
}

function sleb(n: number): number[] {
  const out: number[] = []
  for (;;) {
    const byte = n & 0x7f
    n >>= 7
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte)
      return out
    }
    out.push(byte | 0x80)
  }
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body]
}

function str(s: string): number[] {
  const bytes = [...new TextEncoder().encode(s)]
  return [...uleb(bytes.length), ...bytes]
}

const I32 = 0x7f
const V128 = 0x7b

// Parameter and local indices.
const P_OUT = 0
const P_W = 1
const P_LP = 2
const P_RP = 3
const P_ROWS = 4
const P_COLS = 5
const P_RANK = 6
const L_RB = 7 // row bytes
const L_RB2 = 8
const L_RB3 = 9
const L_LSTRIDE = 10 // bytes per packed L row block
const L_RSTRIDE = 11 // bytes per packed R column block
const L_POS = 12 // byte offset of the tile's top-left element in W / out
const L_ROWEND = 13
const L_LBLK = 14
const L_RJB = 15
const L_LK = 16
const L_RK = 17
const L_LKEND = 18
const L_IB = 19
const L_ADDR = 20
const I32_LOCALS = 14 // 7..20
const V_ACC = 21 // TILE_ROWS·TILE_VECS accumulators (row t, vector c → V_ACC + t·TILE_VECS + c), then s, r_0…

function kernelBody(): number[] {
  const TR: number = TILE_ROWS
  const TV: number = TILE_VECS
  const V_S = V_ACC + TR * TV
  const V_R = V_S + 1
  const V128_LOCALS = TR * TV + 1 + TV
  const c: number[] = []
  const get = (i: number) => c.push(0x20, ...uleb(i))
  const set = (i: number) => c.push(0x21, ...uleb(i))
  const tee = (i: number) => c.push(0x22, ...uleb(i))
  const i32c = (n: number) => c.push(0x41, ...sleb(n))
  const add = () => c.push(0x6a)
  const sub = () => c.push(0x6b)
  const shl = () => c.push(0x74)
  const ne = () => c.push(0x47)
  const load = (offset: number) => c.push(0xfd, 0x00, 4, ...uleb(offset))
  const store = (offset: number) => c.push(0xfd, 0x0b, 4, ...uleb(offset))
  const splat = (offset: number) => c.push(0xfd, 0x09, 2, ...uleb(offset))
  const fadd = () => c.push(0xfd, ...uleb(0xe4))
  const fmul = () => c.push(0xfd, ...uleb(0xe6))
  const loop = () => c.push(0x03, 0x40)
  const end = () => c.push(0x0b)
  const brIf = (depth: number) => c.push(0x0d, ...uleb(depth))
  /** addr = base + pos + t·rb into L_ADDR. */
  const tileAddr = (base: number, t: number) => {
    get(base)
    get(L_POS)
    add()
    if (t > 0) {
      get(t === 1 ? L_RB : t === 2 ? L_RB2 : L_RB3)
      add()
    }
  }

  // rb = cols << 2; rb2 = rb << 1; rb3 = rb2 + rb
  get(P_COLS)
  i32c(2)
  shl()
  tee(L_RB)
  i32c(1)
  shl()
  tee(L_RB2)
  get(L_RB)
  add()
  set(L_RB3)
  // lstride = rank · TR · 4 bytes; rstride = rank · TV · 16 bytes
  get(P_RANK)
  i32c(TR * 4)
  c.push(0x6c)
  set(L_LSTRIDE)
  get(P_RANK)
  i32c(TV * 16)
  c.push(0x6c)
  set(L_RSTRIDE)
  // pos = 0; lblk = lp; ib = rows >> 2
  i32c(0)
  set(L_POS)
  get(P_LP)
  set(L_LBLK)
  get(P_ROWS)
  i32c(TR)
  c.push(0x6e) // i32.div_u
  set(L_IB)

  loop() // rows
  get(L_POS)
  get(L_RB)
  add()
  set(L_ROWEND)
  get(P_RP)
  set(L_RJB)

  loop() // column blocks
  for (let t = 0; t < TR; t++) {
    tileAddr(P_W, t)
    set(L_ADDR)
    for (let v = 0; v < TV; v++) {
      get(L_ADDR)
      load(16 * v)
      set(V_ACC + t * TV + v)
    }
  }
  /** One k step: reads L and R at byte offsets `k·TR·4` / `k·TV·16` past the `lp` / `rp` locals. */
  const step = (lp: number, rp: number, k: number) => {
    if (TR > 1) {
      for (let v = 0; v < TV; v++) {
        get(rp)
        load(k * TV * 16 + 16 * v)
        set(V_R + v)
      }
    }
    for (let t = 0; t < TR; t++) {
      get(lp)
      splat(k * TR * 4 + 4 * t)
      set(V_S)
      for (let v = 0; v < TV; v++) {
        get(V_S)
        if (TR > 1) get(V_R + v)
        else {
          get(rp)
          load(k * TV * 16 + 16 * v)
        }
        fmul()
        get(V_ACC + t * TV + v)
        fadd()
        set(V_ACC + t * TV + v)
      }
    }
  }
  get(L_LBLK)
  tee(L_LK)
  get(L_LSTRIDE)
  add()
  set(L_LKEND)
  get(L_RJB)
  set(L_RK)
  loop() // k
  step(L_LK, L_RK, 0)
  get(L_RK)
  i32c(TV * 16)
  add()
  set(L_RK)
  get(L_LK)
  i32c(TR * 4)
  add()
  tee(L_LK)
  get(L_LKEND)
  ne()
  brIf(0)
  end() // k

  for (let t = 0; t < TR; t++) {
    tileAddr(P_OUT, t)
    set(L_ADDR)
    for (let v = 0; v < TV; v++) {
      get(L_ADDR)
      get(V_ACC + t * TV + v)
      store(16 * v)
    }
  }
  get(L_RJB)
  get(L_RSTRIDE)
  add()
  set(L_RJB)
  get(L_POS)
  i32c(TV * 16)
  add()
  tee(L_POS)
  get(L_ROWEND)
  ne()
  brIf(0)
  end() // column blocks

  // Next row block: pos is at the start of row TR·b+1; the block after starts at row TR·(b+1).
  if (TR > 1) {
    get(L_POS)
    get(TR === 2 ? L_RB : TR === 3 ? L_RB2 : L_RB3)
    add()
    set(L_POS)
  }
  get(L_LBLK)
  get(L_LSTRIDE)
  add()
  set(L_LBLK)
  get(L_IB)
  i32c(1)
  sub()
  tee(L_IB)
  brIf(0)
  end() // rows
  end() // function

  const locals = [2, ...uleb(I32_LOCALS), I32, ...uleb(V128_LOCALS), V128]
  const body = [...locals, ...c]
  return [...uleb(body.length), ...body]
}

/** The module's bytes; the memory import is declared shared when `shared` (threaded backend). */
export function rankUpdateModuleBytes(shared: boolean): Uint8Array {
  const type = section(1, [1, 0x60, 7, I32, I32, I32, I32, I32, I32, I32, 0])
  const limits = shared ? [0x03, ...uleb(1), ...uleb(65536)] : [0x00, ...uleb(1)]
  const imports = section(2, [1, ...str('env'), ...str('memory'), 0x02, ...limits])
  const funcs = section(3, [1, 0])
  const exports = section(7, [1, ...str('update'), 0x00, 0])
  const code = section(10, [1, ...kernelBody()])
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...type,
    ...imports,
    ...funcs,
    ...exports,
    ...code,
  ])
}

/** The part of the `WebAssembly` global used here (the project's `lib` has no DOM/wasm typings). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> }
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory
}

/** The runtime's `WebAssembly` global, or undefined. */
export function wasmApi(): WasmApi | undefined {
  return (globalThis as { WebAssembly?: WasmApi }).WebAssembly
}

const KERNELS = new WeakMap<WasmMemory, RankUpdateKernel | null>()

/**
 * The kernel bound to `memory`, or `null` when this runtime cannot compile it (no SIMD): callers
 * then fall back to TensorFlow.js ops. Compiled once per memory.
 */
export function rankUpdateKernel(memory: WasmMemory): RankUpdateKernel | null {
  const known = KERNELS.get(memory)
  if (known !== undefined) return known
  let kernel: RankUpdateKernel | null = null
  const wasm = wasmApi()
  try {
    if (wasm === undefined) throw new Error('no WebAssembly')
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer
    const module = new wasm.Module(rankUpdateModuleBytes(shared))
    const instance = new wasm.Instance(module, { env: { memory } })
    kernel = instance.exports.update as RankUpdateKernel
  } catch {
    kernel = null
  }
  KERNELS.set(memory, kernel)
  return kernel
}
