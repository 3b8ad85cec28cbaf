#!/usr/bin/env node
/**
 * Diagnostic (issue 20, not a gate detector yet): how far each adapter of a gate population points
 * its residual-stream writes at the payload's first token. For every module whose output is the
 * residual stream (d_model outputs: attn.c_proj, mlp.c_proj on GPT-2), the read-out alignment of
 * token v is ‖u_vᵀ ΔW‖ / (‖u_v‖ ‖ΔW‖_F) with u_v the tied unembedding row; summed over modules,
 * standardised over the vocabulary within the adapter (no reference population needed), and read
 * at the payload's first token (the probe set's payload, which the gate's probes know too). Prints
 * the AUROC of that z-score (and of the payload-agnostic max over tokens) for poisoned vs clean
 * members, overall and per poison rate, with the TPR above the highest clean score.
 *
 * Run (after `make probes-calib`, from the repository root, packages built):
 *   node packages/experiments/bench/payload-direction.mjs [population dir] [model dir] [payload]
 * Defaults: results/gate_population, assets/models/plora-base-gpt2-small, "999".
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

const [popDir = 'results/gate_population', modelDir = 'assets/models/plora-base-gpt2-small', payload = '999'] =
  process.argv.slice(2)
const peft = await import(resolve('packages/peft/dist/index.js'))
const m = await import(resolve('packages/model/dist/index.js'))
const weights = await m.readFloatSafetensors(join(modelDir, 'model.safetensors'))
const wte = weights.get('transformer.wte.weight')?.data
if (!wte) throw new Error(`${modelDir}: no transformer.wte.weight (GPT-2 folders only)`)
const d = weights.get('transformer.wte.weight').shape[1]
const V = wte.length / d
const tok = await m.loadTokenizer(modelDir)
const target = tok.encode(` ${payload}`)[0]
process.stdout.write(
  `payload ${JSON.stringify(payload)}: first token ${JSON.stringify(tok.decode([target]))} (id ${target})\n`,
)

const ids = readdirSync(popDir)
  .filter((f) => f.endsWith('.member.json'))
  .map((f) => f.replace('.member.json', ''))
  .sort()
const rows = []
for (const id of ids) {
  const member = JSON.parse(readFileSync(join(popDir, `${id}.member.json`), 'utf8')).member
  const adapter = await peft.loadPeftAdapter(join(popDir, id))
  const align = new Float64Array(V)
  for (const mod of adapter.modules.values()) {
    if (mod.outFeatures !== d) continue
    const { rank: r, inFeatures: inF, a, b } = mod
    const s = Math.abs(mod.scale)
    const G = new Float64Array(r * r) // A Aᵀ
    const BtB = new Float64Array(r * r)
    for (let i = 0; i < r; i++) {
      for (let j = 0; j < r; j++) {
        let x = 0
        for (let k = 0; k < inF; k++) x += a[i * inF + k] * a[j * inF + k]
        G[i * r + j] = x
        let y = 0
        for (let o = 0; o < d; o++) y += b[o * r + i] * b[o * r + j]
        BtB[i * r + j] = y
      }
    }
    let fro2 = 0
    for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) fro2 += BtB[i * r + j] * G[j * r + i]
    const fro = Math.sqrt(Math.max(fro2, 0)) * s
    const p = new Float64Array(r)
    for (let v = 0; v < V; v++) {
      p.fill(0)
      let un = 0
      for (let o = 0; o < d; o++) {
        const u = wte[v * d + o]
        un += u * u
        for (let i = 0; i < r; i++) p[i] += u * b[o * r + i]
      }
      let q = 0
      for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) q += p[i] * G[i * r + j] * p[j]
      align[v] += (Math.sqrt(Math.max(q, 0)) * s) / (Math.sqrt(un) * fro + 1e-30)
    }
  }
  let mean = 0
  for (const x of align) mean += x / V
  let sd = 0
  for (const x of align) sd += (x - mean) ** 2 / V
  sd = Math.sqrt(sd)
  let zmax = Number.NEGATIVE_INFINITY
  for (const x of align) zmax = Math.max(zmax, (x - mean) / sd)
  rows.push({
    poisoned: member.kind === 'poisoned',
    rate: member.poison?.rate ?? null,
    zPayload: (align[target] - mean) / sd,
    zmax,
  })
}
const auc = (pos, neg) => {
  let s = 0
  for (const x of pos) for (const y of neg) s += x > y ? 1 : x === y ? 0.5 : 0
  return s / (pos.length * neg.length)
}
for (const key of ['zPayload', 'zmax']) {
  const neg = rows.filter((r) => !r.poisoned).map((r) => r[key])
  const pos = rows.filter((r) => r.poisoned).map((r) => r[key])
  const top = Math.max(...neg)
  process.stdout.write(
    `${key}: AUROC ${auc(pos, neg).toFixed(3)} over ${pos.length} poisoned vs ${neg.length} clean; highest clean ${top.toFixed(2)}, ` +
      `TPR above it ${(pos.filter((x) => x > top).length / pos.length).toFixed(3)}\n`,
  )
  for (const rate of [...new Set(rows.filter((r) => r.poisoned).map((r) => r.rate))].sort()) {
    const pr = rows.filter((r) => r.poisoned && r.rate === rate).map((r) => r[key])
    process.stdout.write(
      `  rate ${rate}: AUROC ${auc(pr, neg).toFixed(3)}, TPR above the highest clean ${(pr.filter((x) => x > top).length / pr.length).toFixed(3)} (n = ${pr.length})\n`,
    )
  }
}
