/**
 * Config corpora.
 * - `config`: `plora.yml` texts (the dry and full presets), YAML mutations and hostile `extends`
 *   bases; oracle `loadConfigFile` on the bytes (and `parseConfigText` on UTF-8 text, which must
 *   agree), with the project root in a scratch folder that holds the hostile bases.
 * - `adapter-config`: `adapter_config.json` from the loader's writer (`buildPeftLoraConfig` +
 *   `serializePeftLoraConfig`) beside matching weights; oracle the loader's folder reader, with
 *   PEFT's semantics as reference (pattern keys are regexes, ranks are ints, Python's strict UTF-8).
 * - `env`: `PLORA_*` integer variables through `readEnv`.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { attempt, type Corpus, type Expect, int, type Mutant, pick, type Verdict, verdictOf } from './engine.js'
import { byteMutation, concat, enc, invalidUtf8 } from './mutate.js'
import {
  buildPeftLoraConfig,
  encodeSafetensors,
  loadConfigFile,
  loadPeftAdapter,
  MAX_ENV_DATASET_RETRIES,
  MAX_ENV_PRETRAIN_STEPS,
  MAX_ENV_SAMPLES,
  moduleScale,
  parseConfigText,
  parsePeftLoraConfig,
  type Rng,
  readEnv,
  serializePeftLoraConfig,
} from './targets.js'
import { yamlByteRule, yamlMutation } from './yaml-mutators.js'

const REPO = join(import.meta.dirname, '../..')
const PRESET_TEXT = {
  dry: readFileSync(join(REPO, 'config/plora.dry.yml'), 'utf8'),
  full: readFileSync(join(REPO, 'config/plora.full.yml'), 'utf8'),
}

/** Hostile `extends` bases placed in the scratch project root: [value, must be accepted?]. */
const BASES: ReadonlyArray<readonly [string, boolean, string]> = [
  ['dry', true, 'preset'],
  ['full', true, 'preset'],
  ['bases/ok.yml', true, 'a copy of the dry preset'],
  ['bases/scalar.yml', false, 'a scalar document'],
  ['bases/list.yml', false, 'a list document'],
  ['bases/empty.yml', false, 'an empty file'],
  ['bases/dup.yml', false, 'duplicate keys'],
  ['bases/laughs.yml', false, 'billion laughs'],
  ['bases/binary.bin', false, 'random bytes'],
  ['bases/second-doc.yml', false, 'two documents'],
  ['bases/self.yml', false, 'extends itself'],
  ['bases/bad-extends.yml', false, 'extends a number'],
  ['bases', false, 'a directory'],
  ['bases/missing.yml', false, 'a missing file'],
  ['/etc/passwd', false, 'an arbitrary system file'],
  ['../../../../../../etc/hostname', false, 'a path outside the project'],
  ['bases/nul.yml', false, 'a NUL byte'],
]

function laughs(levels: number, width: number): string {
  const defs = [`a0: &a0 [lol${', lol'.repeat(width - 1)}]`]
  for (let l = 1; l < levels; l++)
    defs.push(
      `a${l}: &a${l} [${Array(width)
        .fill(`*a${l - 1}`)
        .join(', ')}]`,
    )
  return `${defs.join('\n')}\n`
}

/** Writes the scratch project root (config presets and hostile bases). */
export function setupConfigRoot(root: string): void {
  mkdirSync(join(root, 'config'), { recursive: true })
  mkdirSync(join(root, 'bases'), { recursive: true })
  copyFileSync(join(REPO, 'config/plora.dry.yml'), join(root, 'config/plora.dry.yml'))
  copyFileSync(join(REPO, 'config/plora.full.yml'), join(root, 'config/plora.full.yml'))
  const w = (name: string, data: string | Uint8Array) => writeFileSync(join(root, 'bases', name), data)
  w('ok.yml', PRESET_TEXT.dry)
  w('scalar.yml', '42\n')
  w('list.yml', '- a\n- b\n')
  w('empty.yml', '')
  w('dup.yml', `${PRESET_TEXT.dry}\nsamples: 64\n`)
  w('laughs.yml', laughs(10, 10))
  w(
    'binary.bin',
    Uint8Array.from({ length: 512 }, (_, i) => (i * 131 + 7) % 256),
  )
  w('second-doc.yml', `${PRESET_TEXT.dry}\n---\nsamples: 1\n`)
  w('self.yml', 'extends: bases/self.yml\n')
  w('bad-extends.yml', 'extends: 7\n')
  w('nul.yml', `samples: 3\u0000\n`)
}

export function configCorpus(root: string, options: { light?: boolean } = {}): Corpus {
  return {
    name: 'config',
    make(rng): Mutant {
      const which = rng.choice(['dry', 'full'] as const)
      const seed = PRESET_TEXT[which]
      if (rng.random() < 0.12) {
        const [base, ok, what] = rng.choice(BASES)
        const override = pick(rng, [
          [2, ''],
          [1, 'samples: 7\n'],
          [1, 'graph:\n  p: 0.5\n'],
          [1, 'fuzz_unknown: 1\n'],
        ] as const)
        const expect: Expect = ok && !override.startsWith('fuzz_unknown') ? 'accept' : 'reject'
        return {
          kind: ok ? 'extends:valid' : 'extends:hostile',
          desc: `extends ${base} (${what})${override ? ` + ${override.trim()}` : ''}`,
          bytes: enc.encode(`extends: ${base}\n${override}`),
          expect,
          reason: ok ? 'a valid base' : `base is ${what}`,
          context: {},
        }
      }
      const t = yamlMutation(rng, seed, {
        optionalTop: new Set(['data']),
        version: '1.2',
        light: options.light === true,
      })
      return {
        kind: t.kind,
        desc: `${which}: ${t.desc}`,
        bytes: t.bytes,
        expect: t.expect,
        ...(t.reason ? { reason: t.reason } : {}),
        context: { equal: t.equal === true, seed: parseConfigText(seed, 'seed', { root }) },
      }
    },
    async judge(m): Promise<Verdict> {
      const ctx = m.context as { equal?: boolean; seed?: unknown }
      let expect = m.expect
      let reason = m.reason
      const rule = yamlByteRule(m.bytes)
      if (rule) {
        expect = 'reject'
        reason = rule
      }
      // The CLI's path: loadConfigFile reads the bytes (strict UTF-8, size first). The text entry
      // point is compared only for UTF-8 bytes (a lossy decode would be a different input).
      const file = join(root, 'config', 'case.yml')
      writeFileSync(file, m.bytes)
      const a = await attempt(() => loadConfigFile(file, { root }))
      const violations: string[] = []
      let ms = a.ms
      if (!invalidUtf8(m.bytes)) {
        const b = await attempt(() =>
          parseConfigText(Buffer.from(m.bytes).toString('utf8'), 'config/case.yml', { root }),
        )
        ms += b.ms
        if (a.outcome !== b.outcome || a.code !== b.code)
          violations.push(`file gives ${a.outcome} ${a.code ?? ''}, text gives ${b.outcome} ${b.code ?? ''}`)
      }
      if (a.value && ctx.equal && !isDeepStrictEqual(a.value, ctx.seed))
        violations.push('a formatting-only change altered the config')
      return verdictOf(a, expect, reason, violations, ms)
    },
  }
}

// ---------------------------------------------------------------------------------------------
// adapter_config.json

const MODULE = 'base_model.model.transformer.h.0.attn'

function weightsFor(r: number, modules: readonly string[], rng: Rng): Uint8Array {
  const tensors: Array<[string, { dtype: 'F32'; shape: number[]; data: Float32Array }]> = []
  for (const mod of modules) {
    const inF = 8
    const outF = mod === 'c_attn' ? 24 : 8
    const a = Float32Array.from({ length: r * inF }, () => rng.gauss(0, 0.1))
    const b = Float32Array.from({ length: outF * r }, () => rng.gauss(0, 0.1))
    tensors.push([`${MODULE}.${mod}.lora_A.weight`, { dtype: 'F32', shape: [r, inF], data: a }])
    tensors.push([`${MODULE}.${mod}.lora_B.weight`, { dtype: 'F32', shape: [outF, r], data: b }])
  }
  return encodeSafetensors(tensors, { format: 'pt' })
}

/** A valid PyTorch/PEFT-compatible rank-pattern key: compiles as a regex in `(.*\.)?KEY$`. */
function compiles(key: string): boolean {
  try {
    new RegExp(`^(.*\\.)?${key}$`)
    return true
  } catch {
    return false
  }
}

interface AdapterCtx {
  modules: string[]
}

type AdapterMutant = { kind: string; desc: string; bytes: Uint8Array; expect: Expect; reason?: string }

function adapterMutation(rng: Rng, cfg: Record<string, unknown>, text: string): AdapterMutant {
  // raw('1e400') puts a literal into the JSON text that JSON.stringify cannot write (it would give null).
  const J = (v: unknown) => `${JSON.stringify(v, null, 2).replace(/"@raw:([^"]*)"/g, '$1')}\n`
  const raw = (literal: string) => `@raw:${literal}`
  const set = (k: string, v: unknown) => J({ ...cfg, [k]: v })
  const R = (kind: string, desc: string, t: string, reason: string) => ({
    kind,
    desc,
    bytes: enc.encode(t),
    expect: 'reject' as const,
    reason,
  })
  const A = (kind: string, desc: string, t: string) => ({ kind, desc, bytes: enc.encode(t), expect: 'any' as const })
  const mod = rng.choice(cfg.target_modules as string[])
  return pick<() => AdapterMutant>(rng, [
    [
      2,
      () => ({ kind: 'valid:as-written', desc: 'writer output', bytes: enc.encode(text), expect: 'accept' as const }),
    ],
    [
      1,
      () => ({
        kind: 'valid:compact',
        desc: 'same config, compact and reordered',
        bytes: enc.encode(JSON.stringify(Object.fromEntries(rng.shuffle(Object.entries(cfg))))),
        expect: 'accept' as const,
      }),
    ],
    [
      1,
      () => ({
        kind: 'valid:extra-field',
        desc: 'a field from a newer PEFT',
        bytes: enc.encode(set('fuzz_new_field', rng.choice([1, 'x', null, [1], { a: 1 }]))),
        expect: 'accept' as const,
      }),
    ],
    [
      8,
      () => {
        const m = byteMutation(enc.encode(text), rng)
        return { kind: m.kind, desc: m.desc, bytes: m.bytes, expect: 'any' as const }
      },
    ],
    [
      3,
      () => {
        const v = rng.choice([0, -1, -4, 1.5, '4', null, true, [4], 2 ** 53, raw('1e400'), 'NaN', '4 '])
        return R('config:r-invalid', `r → ${JSON.stringify(v)}`, set('r', v), 'r must be a positive integer')
      },
    ],
    [
      1,
      () => {
        const lit = rng.choice(['4.0', '4e0', '0.4e1', '4E+0'])
        return R(
          'config:r-float-literal',
          `r written ${lit}`,
          text.replace(/"r": \d+/, `"r": ${lit}`),
          'PEFT (Python json) reads a float; torch refuses a float rank',
        )
      },
    ],
    [1, () => A('config:r-huge', 'r → 1e6', set('r', 1_000_000))],
    [
      3,
      () => {
        const v = rng.choice([0, -8, '8', null, false, raw('1e400'), raw('-1e400'), 'NaN', 'Infinity', -1e-9])
        return R(
          'config:alpha-invalid',
          `lora_alpha → ${JSON.stringify(v)}`,
          set('lora_alpha', v),
          'lora_alpha must be a positive finite number',
        )
      },
    ],
    [
      1,
      () => {
        const lit = rng.choice(['NaN', 'Infinity', '-Infinity'])
        return R(
          'config:nan-literal',
          `lora_alpha: ${lit} (Python json accepts it)`,
          text.replace(/"lora_alpha": [0-9.e+-]+/, `"lora_alpha": ${lit}`),
          'not JSON; a non-finite alpha',
        )
      },
    ],
    [1, () => A('config:alpha-huge', 'lora_alpha → 1e308', set('lora_alpha', 1e308))],
    [
      3,
      () => {
        const key = rng.choice(['(', '[', '*', '+c_attn', 'c_attn)', '\\', '(?<', 'a{2,1}', '[z-a]'])
        const field = rng.choice(['rank_pattern', 'alpha_pattern'])
        return R(
          'config:pattern-bad-regex',
          `${field} key ${JSON.stringify(key)}`,
          set(field, { [key]: 8 }),
          'PEFT compiles pattern keys as regexes (re.error)',
        )
      },
    ],
    [
      3,
      () => {
        const key = rng.choice([
          '.*',
          `${mod}|c_proj`,
          `(${mod})`,
          `h\\.0\\.attn\\.${mod}`,
          `${mod}.*`,
          '[a-z_]+',
          mod,
          `attn.${mod}`,
          `x|${mod}`,
        ])
        const field = rng.choice(['rank_pattern', 'alpha_pattern'])
        const value = field === 'alpha_pattern' ? rng.choice([1, 64, 8000]) : (cfg.r as number)
        return A('config:pattern-regex', `${field} {${JSON.stringify(key)}: ${value}}`, set(field, { [key]: value }))
      },
    ],
    [
      2,
      () => {
        const field = rng.choice(['rank_pattern', 'alpha_pattern'])
        const v = rng.choice([
          0,
          -1,
          '8',
          null,
          raw('1e400'),
          [8],
          { a: 1 },
          ...(field === 'rank_pattern' ? [2.5] : []),
        ])
        return R(
          'config:pattern-bad-value',
          `${field} {${mod}: ${JSON.stringify(v)}}`,
          set(field, { [mod]: v }),
          'pattern values must be positive numbers (ranks ints)',
        )
      },
    ],
    [
      2,
      () => {
        const v = rng.choice([123, [1], {}, [mod, 7], true])
        return R(
          'config:targets-type',
          `target_modules → ${JSON.stringify(v)}`,
          set('target_modules', v),
          'target_modules must be strings',
        )
      },
    ],
    [
      1,
      () =>
        A(
          'config:targets-string',
          'target_modules as one regex string',
          set('target_modules', rng.choice([mod, '.*', `.*${mod}`, '('])),
        ),
    ],
    [
      2,
      () => {
        const [k, v] = rng.choice([
          ['peft_type', 'lora'],
          ['peft_type', 'IA3'],
          ['peft_type', 'LORA '],
          ['use_dora', true],
          ['use_dora', 'false'],
          ['use_rslora', 'true'],
          ['fan_in_fan_out', 1],
          ['lora_dropout', -0.1],
          ['lora_dropout', 1.5],
          ['lora_dropout', '0.1'],
          ['bias', 'all'],
          ['bias', 'lora_only'],
          ['modules_to_save', 'x'],
        ] as const)
        return R('config:field-invalid', `${k} → ${JSON.stringify(v)}`, set(k, v), `${k} out of the schema`)
      },
    ],
    [
      2,
      () => {
        const k = rng.choice(['peft_type', 'r', 'lora_alpha'])
        const { [k]: _, ...rest } = cfg
        return R('config:missing-required', `${k} removed`, J(rest), `${k} is required`)
      },
    ],
    [
      1,
      () => {
        const k = rng.choice(['target_modules', 'fan_in_fan_out', 'use_rslora', 'rank_pattern', 'lora_dropout'])
        const { [k]: _, ...rest } = cfg
        return A('config:missing-optional', `${k} removed`, J(rest))
      },
    ],
    [
      2,
      () => {
        const k = rng.choice(['r', 'lora_alpha', 'use_rslora', 'target_modules', 'peft_type'])
        const v = JSON.stringify(
          k === 'r'
            ? 64
            : k === 'lora_alpha'
              ? 8000
              : k === 'use_rslora'
                ? true
                : k === 'target_modules'
                  ? ['c_proj']
                  : 'IA3',
        )
        return A(
          'config:duplicate-key',
          `"${k}" twice (second ${v}); Python json also keeps the last`,
          text.replace(/\n\}\n?$/, `,\n  "${k}": ${v}\n}\n`),
        )
      },
    ],
    [
      2,
      () => {
        const bad = rng.choice([[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0x80]])
        const b = enc.encode(text)
        const at = text.indexOf('"base_model_name_or_path": "') + '"base_model_name_or_path": "'.length
        const off = enc.encode(text.slice(0, at)).byteLength
        return {
          kind: 'config:non-utf8',
          desc: `bytes ${bad.map((x) => x.toString(16))} in base_model_name_or_path`,
          bytes: concat(b.subarray(0, off), Uint8Array.from(bad), b.subarray(off)),
          expect: 'reject' as const,
          reason: 'Python reads the file as strict UTF-8',
        }
      },
    ],
    [
      1,
      () =>
        A(
          'config:surrogate-escape',
          'base_model_name_or_path with \\ud800',
          text.replace('"base_model_name_or_path": "', '"base_model_name_or_path": "\\ud800'),
        ),
    ],
    [
      1,
      () => {
        const d = rng.choice([10, 1000, 100000])
        return A(
          'config:deep',
          `extra field nested ${d} deep`,
          text.replace(/^\{/, `{"fuzz_nest": ${'['.repeat(d)}${']'.repeat(d)},`),
        )
      },
    ],
    [
      1,
      () => {
        const n = rng.choice([10_000, 1_000_000, 5_000_000])
        return A(
          'config:huge-string',
          `base_model_name_or_path ${n} chars`,
          set('base_model_name_or_path', 'a'.repeat(n)),
        )
      },
    ],
    [
      1,
      () =>
        R(
          'config:framing',
          'not one JSON object',
          rng.choice(['', '[]', 'null', '"x"', `${text}{}`, `\ufeff${text}`, text.replace(/\}\s*$/, '')]),
          'not a JSON object',
        ),
    ],
  ])()
}

export function adapterConfigCorpus(scratch: string): Corpus {
  const dir = join(scratch, 'adapter')
  mkdirSync(dir, { recursive: true })
  return {
    name: 'adapter-config',
    make(rng): Mutant {
      const modules = rng.sample(['c_attn', 'c_proj'], int(rng, 1, 2))
      const r = rng.choice([1, 2, 4, 8])
      const cfg = buildPeftLoraConfig({
        r,
        loraAlpha: r * rng.choice([1, 2, 4]),
        targetModules: modules,
        fanInFanOut: rng.random() < 0.5,
        baseModelNameOrPath: rng.choice(['sshleifer/tiny-gpt2', 'embedded', null]),
        useRslora: rng.random() < 0.3,
      })
      const text = serializePeftLoraConfig(cfg)
      const m = adapterMutation(rng, cfg as Record<string, unknown>, text)
      writeFileSync(join(dir, 'adapter_model.safetensors'), weightsFor(r, modules, rng))
      return { ...m, context: { modules } satisfies AdapterCtx }
    },
    async judge(m): Promise<Verdict> {
      const ctx = m.context as AdapterCtx
      let expect = m.expect
      let reason = m.reason
      if (invalidUtf8(m.bytes)) {
        expect = 'reject'
        reason = 'not valid UTF-8 (Python json.load raises)'
      }
      writeFileSync(join(dir, 'adapter_config.json'), m.bytes)
      const a = await attempt(() => loadPeftAdapter(dir) as Promise<{ config: Record<string, unknown> }>)
      const violations: string[] = []
      if (a.value) {
        const cfg = a.value.config
        for (const field of ['rank_pattern', 'alpha_pattern'] as const) {
          for (const key of Object.keys((cfg[field] as Record<string, unknown>) ?? {})) {
            if (!compiles(key))
              violations.push(
                `${field} key ${JSON.stringify(key)} is not a regular expression (PEFT raises; the loader ignores it)`,
              )
          }
        }
        for (const mod of ctx.modules) {
          const s = moduleScale(cfg as never, `transformer.h.0.attn.${mod}`)
          if (!Number.isFinite(s) || s <= 0) violations.push(`scale of ${mod} is ${s}`)
        }
        const ser = await attempt(() => serializePeftLoraConfig(cfg as never))
        if (ser.outcome !== 'accepted')
          violations.push(`an accepted config cannot be written back: ${ser.outcome} ${ser.error ?? ''}`)
        else {
          const back = await attempt(() => parsePeftLoraConfig(JSON.parse(ser.value!)))
          if (back.outcome !== 'accepted' || !isDeepStrictEqual(back.value, cfg))
            violations.push('write(read(x)) reads back differently')
        }
      }
      return verdictOf(a, expect, reason, violations, a.ms)
    },
  }
}

// ---------------------------------------------------------------------------------------------
// PLORA_* integer environment variables.

const INT_VARS = ['PLORA_SAMPLES', 'PLORA_DATASET_RETRIES', 'PLORA_PRETRAIN_STEPS'] as const
/**
 * The documented rule (packages/config/src/env.ts): a plain decimal integer in [min, MAX_ENV_*],
 * surrounding whitespace ignored.
 * The bounds are the library's exported constants, not restated literals (the oracle used to
 * allow any safe integer and so called `PLORA_DATASET_RETRIES=5000` (max 100) wrongly rejected).
 */
const INT_BOUNDS: Record<(typeof INT_VARS)[number], readonly [number, number]> = {
  PLORA_SAMPLES: [1, MAX_ENV_SAMPLES],
  PLORA_DATASET_RETRIES: [1, MAX_ENV_DATASET_RETRIES],
  PLORA_PRETRAIN_STEPS: [0, MAX_ENV_PRETRAIN_STEPS],
}

export function envCorpus(): Corpus {
  return {
    name: 'env',
    make(rng): Mutant {
      const name = rng.choice(INT_VARS)
      const [min, max] = INT_BOUNDS[name]
      const v = pick(rng, [
        [3, () => String(int(rng, 0, 100000))],
        [
          1,
          () =>
            rng.choice([
              '0x10',
              '0o20',
              '0b10000',
              '1e3',
              '16.0',
              '16.5',
              '+16',
              ' 16',
              '16 ',
              '016',
              '1_000',
              '16abc',
              '',
              ' ',
              'Infinity',
              'NaN',
              '-1',
              '-0',
              '\u0661\u0666',
              '１６',
              '16\n',
              '0x',
              '9007199254740993',
              '12345678901234567890',
              '1'.repeat(400),
            ]),
        ],
      ] as const)()
      // Surrounding whitespace is ignored and a blank value means unset (env.ts trims every
      // variable, as Python's int() strips whitespace), so " 16" and "16\n" are 16.
      const t = v.trim()
      const plain = /^(0|[1-9][0-9]*)$/.test(t) && Number(t) <= Number.MAX_SAFE_INTEGER
      const inRange = Number(t) >= min && Number(t) <= max
      const expect: Expect = plain ? (inRange ? 'accept' : 'reject') : t === '' ? 'any' : 'reject'
      return {
        kind: `env:${name}`,
        desc: `${name}=${JSON.stringify(v.slice(0, 30))}`,
        bytes: enc.encode(v),
        expect,
        reason: `a plain decimal integer in [${min}, ${max}]`,
        context: { name, v },
      }
    },
    async judge(m): Promise<Verdict> {
      const { name, v } = m.context as { name: string; v: string }
      const a = await attempt(() => readEnv({ [name]: v }))
      return {
        outcome: a.outcome,
        ...(a.code ? { code: a.code } : {}),
        ...(a.error ? { error: a.error } : {}),
        ...(a.stack ? { stack: a.stack } : {}),
        expect: m.expect,
        ...(m.reason ? { reason: m.reason } : {}),
        violations: [],
        ms: a.ms,
      }
    },
  }
}
