/**
 * LoRA target-module selection (spec core.md §10).
 *
 * The original matched plain name suffixes against one list per scheme, so GPT-2's `mlp.c_proj`
 * was adapted under "attention" because `c_proj` is in both lists `[D-25]`. Here a scheme is
 * resolved on the full module path: a module belongs to "attention" when its leaf name is an
 * attention suffix *and* one of its ancestors is an attention block (`attn`, `self_attn`), and to
 * "mlp" when its leaf is an MLP suffix under an MLP block (`mlp`). The suffix constants are kept
 * verbatim, because manifests and policies compare `target_modules` against them by equality.
 */
import { PeftError, PeftErrorCode } from './errors.js'

/** The original's attention suffixes, in its order (§10). */
export const ATTENTION_SUFFIXES: readonly string[] = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'c_attn', 'c_proj']
/** The original's MLP suffixes, in its order (§10). */
export const MLP_SUFFIXES: readonly string[] = [
  'gate_proj',
  'up_proj',
  'down_proj',
  'c_fc',
  'c_proj',
  'fc_in',
  'fc_out',
]
/** Sorted union of both lists (§10). */
export const ALL_SUFFIXES: readonly string[] = [...new Set([...ATTENTION_SUFFIXES, ...MLP_SUFFIXES])].sort()

/** The three LoRA target schemes. */
export const TARGET_SCHEMES = ['attention', 'mlp', 'all'] as const
/** A LoRA target scheme. */
export type TargetScheme = (typeof TARGET_SCHEMES)[number]

/** What the loader needs to know about one linear layer (the shape of `CausalLM.linearModules()`). */
export interface LinearModuleInfo {
  /** Dotted module path, e.g. `transformer.h.0.attn.c_attn`; its weight is `<path>.weight`. */
  path: string
  inFeatures: number
  outFeatures: number
  /** GPT-2 `Conv1D`: the stored weight is `[in, out]` (PEFT `fan_in_fan_out`). */
  conv1d: boolean
}

// Ancestor segment names that mark an attention or MLP block in the supported families
// (GPT-2: `attn`/`mlp`; LLaMA, Mistral, Qwen2: `self_attn`/`mlp`).
const ATTENTION_BLOCKS = new Set(['attn', 'self_attn', 'attention', 'self_attention'])
const MLP_BLOCKS = new Set(['mlp', 'feed_forward', 'ffn'])

/** The block kind of a module path, or `null` when it is neither an attention nor an MLP projection. */
export function classifyModulePath(path: string): 'attention' | 'mlp' | null {
  const segments = path.split('.')
  const leaf = segments[segments.length - 1] ?? ''
  const ancestors = segments.slice(0, -1)
  if (ATTENTION_SUFFIXES.includes(leaf) && ancestors.some((s) => ATTENTION_BLOCKS.has(s))) return 'attention'
  if (MLP_SUFFIXES.includes(leaf) && ancestors.some((s) => MLP_BLOCKS.has(s))) return 'mlp'
  return null
}

/** Parses a user-supplied scheme name (case-insensitive). */
export function parseTargetScheme(scheme: string): TargetScheme {
  const s = scheme.toLowerCase()
  if ((TARGET_SCHEMES as readonly string[]).includes(s)) return s as TargetScheme
  throw new PeftError(
    PeftErrorCode.SchemeInvalid,
    `LoRA target scheme must be one of ${TARGET_SCHEMES.join(', ')}, got "${scheme}"`,
    { scheme },
  )
}

/** The result of resolving a scheme on a model. */
export interface ResolvedTargets {
  /** The selected linear modules, sorted by path. */
  modules: LinearModuleInfo[]
  /** Full module paths, sorted. */
  paths: string[]
  /** Leaf suffix names, sorted and unique: what manifests and policies record (§10). */
  suffixes: string[]
  /**
   * PEFT `target_modules` that select exactly `paths`: the bare suffix when it selects no other
   * linear module of the model, else `<parent>.<suffix>` (e.g. `attn.c_proj`), which PEFT's
   * "`key == t` or `key` ends with `.t`" rule matches without the `[D-25]` spill-over.
   */
  peftTargetModules: string[]
}

/**
 * Selects the linear modules of a scheme on full module paths.
 *
 * @throws PeftError `PEFT_SCHEME_INVALID` for an unknown scheme, `PEFT_TARGETS_EMPTY` when nothing matches.
 * @example
 * ```ts
 * const t = resolveTargetModules(model.linearModules(), 'attention')
 * t.suffixes // ['c_attn', 'c_proj'] on GPT-2, but only the attn.c_proj modules are in t.paths
 * ```
 */
export function resolveTargetModules(
  modules: readonly LinearModuleInfo[],
  scheme: TargetScheme | string,
): ResolvedTargets {
  const s = parseTargetScheme(scheme)
  const selected = modules
    .filter((m) => {
      const kind = classifyModulePath(m.path)
      return kind !== null && (s === 'all' || kind === s)
    })
    .sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0))
  if (selected.length === 0) {
    throw new PeftError(
      PeftErrorCode.TargetsEmpty,
      `LoRA scheme "${s}" selects no linear module of this model (${modules.length} linear modules, none under an ${s === 'mlp' ? 'mlp' : 'attention/mlp'} block with a known projection name)`,
      { scheme: s, linearModules: modules.length },
    )
  }
  return describeSelection(modules, selected)
}

/**
 * Selects modules by PEFT `target_modules` names, with PEFT's matching rule: a module path `p`
 * matches `t` when `p === t` or `p` ends with `.${t}`.
 *
 * @throws PeftError `PEFT_TARGETS_EMPTY` when nothing matches.
 */
export function selectModulesByNames(modules: readonly LinearModuleInfo[], names: readonly string[]): ResolvedTargets {
  const selected = modules
    .filter((m) => names.some((t) => m.path === t || m.path.endsWith(`.${t}`)))
    .sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0))
  if (selected.length === 0) {
    throw new PeftError(
      PeftErrorCode.TargetsEmpty,
      `target modules [${names.join(', ')}] match no linear module of this model`,
      { names: [...names] },
    )
  }
  return describeSelection(modules, selected)
}

function leafOf(path: string): string {
  const i = path.lastIndexOf('.')
  return i < 0 ? path : path.slice(i + 1)
}

function parentQualified(path: string): string {
  const parts = path.split('.')
  return parts.slice(-2).join('.')
}

function describeSelection(all: readonly LinearModuleInfo[], selected: LinearModuleInfo[]): ResolvedTargets {
  const paths = selected.map((m) => m.path)
  const chosen = new Set(paths)
  const suffixes = [...new Set(paths.map(leafOf))].sort()
  const peft = new Set<string>()
  for (const suffix of suffixes) {
    const withSuffix = all.filter((m) => leafOf(m.path) === suffix)
    if (withSuffix.every((m) => chosen.has(m.path))) {
      peft.add(suffix)
    } else {
      // Qualify by the parent segment so PEFT does not also adapt same-named modules elsewhere.
      for (const p of paths) if (leafOf(p) === suffix) peft.add(parentQualified(p))
    }
  }
  return { modules: selected, paths, suffixes, peftTargetModules: [...peft].sort() }
}
