/**
 * Manifest corpus: `plora.yml` texts from the real writer (`dumpManifestYaml` of the spec's
 * fixture with seeded field values, plus the hand-written fixture), YAML mutations, and hostile
 * in-memory manifests given to the writer. Oracle: `loadManifestFile` on the bytes (the CLI's
 * path) and `parseManifestYaml` on the text must agree; an accepted manifest must obey the
 * byte-level YAML rules, round-trip through dump/load unchanged, and — when PyYAML is available —
 * read back identically in PyYAML (the original's reader).
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { attempt, type Corpus, int, type Mutant, pick, type Verdict, verdictOf } from './engine.js'
import { dec, enc, invalidUtf8 } from './mutate.js'
import { normForPy, type PyYaml } from './pyyaml.js'
import { dumpManifestYaml, loadManifestFile, parseManifest, parseManifestYaml, type Rng } from './targets.js'
import { yamlByteRule, yamlMutation } from './yaml-mutators.js'

export const MANIFEST_FIXTURE = readFileSync(
  join(import.meta.dirname, '../../packages/manifest/test/fixtures/plora.yml'),
  'utf8',
)
const FIXTURE = parseManifestYaml(MANIFEST_FIXTURE, 'fixture')
type Manifest = typeof FIXTURE

const hex = (rng: Rng, n: number) => Array.from({ length: n }, () => '0123456789abcdef'[rng.randbelow(16)]).join('')

/** A valid manifest with seeded values (the writer's output is the corpus seed). */
function seedManifest(rng: Rng): Manifest {
  const m = structuredClone(FIXTURE) as Manifest
  const mods = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'c_attn', 'c_proj', 'c_fc']
  m.plasmid_id = `${rng.choice(['legal', 'med', 'arith', 'x'])}-${rng.randbelow(100000)}`
  m.domain = rng.choice(['legal', 'medical', 'arithmetic', 'code'])
  m.lora.r = rng.choice([1, 2, 4, 8, 16])
  m.lora.alpha = m.lora.r * rng.choice([1, 2, 4])
  m.lora.dropout = rng.choice([0, 0.05, 0.1])
  m.lora.target_modules = rng.sample(mods, int(rng, 1, 4))
  m.artifacts.sha256 = hex(rng, 64)
  m.artifacts.size_bytes = int(rng, 1, 10_000_000)
  m.train_meta.seed = rng.randbelow(2 ** 31)
  m.train_meta.sample_count = int(rng, 1, 100000)
  const before = Math.round((5 + rng.random() * 20) * 100) / 100
  const after = Math.round((before - rng.random() * 3) * 100) / 100
  m.metrics.val_ppl_before = before
  m.metrics.val_ppl_after = after
  m.metrics.delta_ppl = Math.round((after - before) * 1e6) / 1e6
  return m
}

/** Hostile strings for the writer: each must be written so that it reads back as the same string. */
const TRICKY = [
  'yes',
  'no',
  'on',
  'off',
  'null',
  '~',
  '',
  ' ',
  '0x10',
  '010',
  '1e3',
  '1_000',
  '.nan',
  '.inf',
  '12:30',
  '2001-12-14',
  'a: b',
  '- x',
  '# c',
  '&a',
  '*a',
  '!tag',
  '%x',
  '@x',
  '`x',
  '"q"',
  "'q'",
  'a\nb',
  'a\rb',
  'tab\there',
  '\u2028',
  '\u0085',
  'ünï',
  '🚀',
  '\\',
  '{a}',
  '[a]',
  '---',
  '...',
  'a #b',
  'x'.repeat(5000),
  '\u0000',
  '\u001b[31m',
  '\ufeff',
  '\ud800',
]

export function manifestCorpus(scratch: string, py: PyYaml | null, options: { light?: boolean } = {}): Corpus {
  const path = join(scratch, 'plora.yml')
  return {
    name: 'manifest',
    make(rng): Mutant {
      const seedValue = seedManifest(rng)
      if (rng.random() < 0.06) {
        // Writer side: a hostile value in memory.
        const m = structuredClone(seedValue) as Record<string, unknown> & Manifest
        const field = rng.choice([
          'plasmid_id',
          'domain',
          'base_model',
          'train_meta.dataset_id',
          'safety.licence',
          'compatibility.peft_min',
        ])
        const v = rng.choice(TRICKY)
        const [a, b] = field.split('.')
        if (b) (m[a as keyof Manifest] as Record<string, unknown>)[b] = v
        else (m as Record<string, unknown>)[a!] = v
        return {
          kind: 'writer:tricky-string',
          desc: `${field} = ${JSON.stringify(v.slice(0, 20))}`,
          bytes: new Uint8Array(0),
          expect: 'any',
          context: { writer: m },
        }
      }
      const seedText = rng.random() < 0.15 ? MANIFEST_FIXTURE : dumpManifestYaml(seedValue)
      const seedParsed = parseManifestYaml(seedText, 'seed')
      // Manifests refuse anchors/aliases deliberately (sender-supplied files; see anchorsRefused).
      const t = yamlMutation(rng, seedText, {
        optionalTop: new Set(),
        version: '1.1',
        light: options.light === true,
        anchorsRefused: true,
      })
      return {
        kind: t.kind,
        desc: t.desc,
        bytes: t.bytes,
        expect: t.expect,
        ...(t.reason ? { reason: t.reason } : {}),
        context: { seed: seedParsed, equal: t.equal === true },
      }
    },
    async judge(m): Promise<Verdict> {
      const ctx = m.context as { seed?: Manifest; equal?: boolean; writer?: Manifest }
      if (ctx.writer) return judgeWriter(m, ctx.writer, py)
      let expect = m.expect
      let reason = m.reason
      const rule = yamlByteRule(m.bytes)
      if (rule) {
        expect = 'reject'
        reason = rule
      }
      writeFileSync(path, m.bytes)
      const a = await attempt(() => loadManifestFile(path))
      const violations: string[] = []
      // The text entry point takes a string: bytes that are not UTF-8 cannot reach it as they are
      // (a lossy decode would turn them into U+FFFD, a different, valid input). File and text are
      // compared only when the bytes are UTF-8; for the rest the file reader alone is judged.
      const utf8 = !invalidUtf8(m.bytes)
      const b = utf8 ? await attempt(() => parseManifestYaml(Buffer.from(m.bytes).toString('utf8'), path)) : a
      if (utf8 && (a.outcome !== b.outcome || a.code !== b.code))
        violations.push(`file gives ${a.outcome} ${a.code ?? ''}, text gives ${b.outcome} ${b.code ?? ''}`)
      if (a.value) violations.push(...(await acceptedInvariants(a.value, m.bytes, py)))
      if (a.value && ctx.equal && !isDeepStrictEqual(a.value, ctx.seed))
        violations.push('a formatting-only change altered the parsed manifest')
      const head = a.outcome === 'crashed' ? a : b.outcome === 'crashed' ? b : a
      return verdictOf(head, expect, reason, violations, utf8 ? a.ms + b.ms : a.ms)
    },
  }
}

/**
 * The manifest without its null fields. The dump omits null fields (spec core.md §1: "excluding
 * null fields"; optional fields are "null/absent"), so `val_em: null` and no `val_em` are the same
 * manifest and a round trip may turn one into the other.
 */
function withoutNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutNulls)
  if (v === null || typeof v !== 'object') return v
  return Object.fromEntries(
    Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== null && x !== undefined)
      .map(([k, x]) => [k, withoutNulls(x)]),
  )
}

async function acceptedInvariants(value: Manifest, bytes: Uint8Array | null, py: PyYaml | null): Promise<string[]> {
  const v: string[] = []
  const again = await attempt(() => parseManifest(structuredClone(value)))
  if (again.outcome !== 'accepted') v.push(`accepted value fails the schema: ${again.code}`)
  const dumped = await attempt(() => dumpManifestYaml(value))
  if (dumped.outcome !== 'accepted')
    v.push(`accepted manifest cannot be dumped: ${dumped.outcome} ${dumped.code ?? dumped.error}`)
  else {
    const back = await attempt(() => parseManifestYaml(dumped.value!))
    if (back.outcome !== 'accepted') v.push(`dump of an accepted manifest does not load: ${back.code ?? back.error}`)
    else if (!isDeepStrictEqual(withoutNulls(back.value), withoutNulls(value)))
      v.push('dump(load(x)) loads to a different manifest')
    const rule = yamlByteRule(enc.encode(dumped.value!))
    if (rule) v.push(`dumped text breaks a YAML rule: ${rule}`)
    if (py) {
      const r = await py.load(enc.encode(dumped.value!))
      if (!('ok' in r)) v.push(`PyYAML cannot read the dump: ${r.err}`)
      else if (!isDeepStrictEqual(r.ok, normForPy(withoutNulls(value)))) v.push('PyYAML reads the dump differently')
    }
  }
  if (py && bytes) {
    const r = await py.load(bytes)
    if (!('ok' in r)) v.push(`PyYAML refuses a manifest plora accepts: ${r.err}`)
    else if (!isDeepStrictEqual(r.ok, normForPy(value)))
      v.push(`PyYAML reads it differently: ${JSON.stringify(r.ok).slice(0, 200)}`)
  }
  return v
}

async function judgeWriter(m: Mutant, value: Manifest, py: PyYaml | null): Promise<Verdict> {
  const a = await attempt(() => dumpManifestYaml(value))
  const violations: string[] = []
  if (a.value !== undefined) {
    const back = await attempt(() => parseManifestYaml(a.value!))
    if (back.outcome !== 'accepted') violations.push(`writer output does not load: ${back.code ?? back.error}`)
    else if (!isDeepStrictEqual(back.value, value))
      violations.push(
        `writer output loads differently: ${JSON.stringify(dec.decode(enc.encode(a.value)).slice(0, 120))}`,
      )
    else violations.push(...(await acceptedInvariants(back.value!, enc.encode(a.value), py)))
  }
  return {
    outcome: a.outcome,
    ...(a.code ? { code: a.code } : {}),
    ...(a.error ? { error: a.error } : {}),
    ...(a.stack ? { stack: a.stack } : {}),
    expect: 'any',
    reason: m.desc,
    violations,
    ms: a.ms,
  }
}

export { pick }
