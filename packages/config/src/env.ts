/**
 * Every environment variable plora reads, in one place (STYLE.md §5: only the config package and
 * the CLI read the environment; libraries receive explicit values). Invalid values are errors —
 * `PLORA_SAMPLES=abc` never silently means "no cap".
 */
import { homedir } from 'node:os'
import { join } from 'node:path'
import { LOG_LEVELS, type LogLevel } from '@plora/common'
import { ConfigError, ConfigErrorCode } from './errors.js'
import { SPLITS } from './schema.js'

/** TensorFlow.js backends selectable with `PLORA_BACKEND`. */
export const BACKENDS = ['auto', 'tensorflow', 'wasm', 'cpu'] as const
export type BackendName = (typeof BACKENDS)[number]

/** Values of `PLORA_NATIVE_KERNELS` (the choices of `@plora/model`'s native GEMM, which this package does not import). */
export const NATIVE_KERNELS = ['auto', 'off', 'avx512', 'avx2', 'generic'] as const
export type NativeKernelsName = (typeof NATIVE_KERNELS)[number]

/** Largest `PLORA_WORKERS` (far beyond any machine's cores; each worker holds a model copy). */
export const MAX_ENV_WORKERS = 1024
/** Largest `PLORA_SAMPLES` (a sample cap beyond any dataset plora reads). */
export const MAX_ENV_SAMPLES = 100_000_000
/** Values of `PLORA_EMBEDDED_MODEL` (the presets of `@plora/model`, which this package does not import). */
export const EMBEDDED_MODELS = ['small', 'tiny'] as const
/** Largest `PLORA_PRETRAIN_STEPS`. */
export const MAX_ENV_PRETRAIN_STEPS = 100_000_000
/** Largest `PLORA_DATASET_RETRIES`. */
export const MAX_ENV_DATASET_RETRIES = 100
/** Largest `PLORA_DATASET_RETRY_BACKOFF`, in seconds. */
export const MAX_ENV_RETRY_BACKOFF_S = 3600
/** Largest `PLORA_LATENCY_BUDGET_MS` (one day). */
export const MAX_ENV_LATENCY_BUDGET_MS = 86_400_000
/** Default `PLORA_DATASET_RETRIES`. */
export const DEFAULT_ENV_DATASET_RETRIES = 3
/** Default `PLORA_DATASET_RETRY_BACKOFF`, in seconds. */
export const DEFAULT_ENV_RETRY_BACKOFF_S = 5

/** Documentation of each variable: name, default and meaning (rendered in the README and `plora config env`). */
export const ENV_VARS: ReadonlyArray<{ name: string; default: string; description: string }> = [
  {
    name: 'PLORA_CONFIG',
    default: '(unset)',
    description: 'explicit config file; wins over config/plora.override.yml',
  },
  {
    name: 'PLORA_BASE_MODEL',
    default: '(config base_model)',
    description: 'base model id, local folder, or "embedded"; overrides the config',
  },
  {
    name: 'PLORA_EMBEDDED_MODEL',
    default: 'small',
    description: 'which embedded model "embedded" means: small (committed, pretrained) | tiny (fast tests)',
  },
  {
    name: 'PLORA_PRETRAIN_STEPS',
    default: "(the preset's budget)",
    description:
      'pretraining steps of the embedded model; another budget than the committed one builds it in the cache',
  },
  { name: 'PLORA_SAMPLES', default: '(unset)', description: 'sample cap for commands given no --samples' },
  {
    name: 'PLORA_WORKERS',
    default: '1',
    description: 'worker threads of grid commands given no --workers (plora ablation, plora value-add run)',
  },
  { name: 'PLORA_SPLIT', default: 'train', description: 'dataset split used when a command names none' },
  {
    name: 'PLORA_LATENCY_BUDGET_MS',
    default: '(config latency_budget_ms)',
    description: 'value-add latency budget in ms',
  },
  {
    name: 'PLORA_BACKEND',
    default: 'auto',
    description: 'TensorFlow.js backend: auto | tensorflow (native, GPU if present) | wasm | cpu',
  },
  {
    name: 'PLORA_FORCE_CPU',
    default: '0',
    description: '1 = never use the GPU, even when the native GPU backend loads',
  },
  {
    name: 'PLORA_NATIVE_KERNELS',
    default: 'auto',
    description:
      "native GEMM under the wasm backend's MatMul: auto (best ISA built and supported) | off (wasm kernels) | avx512 | avx2 | generic; off at build time skips compiling it",
  },
  {
    name: 'PLORA_LOG_LEVEL',
    default: 'info',
    description: 'debug | info | warn | error | silent (log lines go to stderr)',
  },
  {
    name: 'PLORA_CACHE_DIR',
    default: '$XDG_CACHE_HOME/plora or ~/.cache/plora',
    description: 'plora cache (embedded base model, prepared data)',
  },
  {
    name: 'PLORA_DATASET_RETRIES',
    default: String(DEFAULT_ENV_DATASET_RETRIES),
    description: 'download attempts for a Hugging Face dataset file',
  },
  {
    name: 'PLORA_DATASET_RETRY_BACKOFF',
    default: String(DEFAULT_ENV_RETRY_BACKOFF_S),
    description: 'linear back-off base in seconds between attempts',
  },
  { name: 'HF_HOME', default: '~/.cache/huggingface', description: 'Hugging Face home (cache lives in $HF_HOME/hub)' },
  {
    name: 'HF_HUB_CACHE',
    default: '$HF_HOME/hub',
    description: 'Hugging Face hub cache (models--org--name/snapshots/<rev>/)',
  },
  {
    name: 'HF_ENDPOINT',
    default: 'https://huggingface.co',
    description: 'hub endpoint for model and dataset downloads',
  },
  { name: 'HF_TOKEN', default: '(unset)', description: 'hub access token for gated repositories' },
  {
    name: 'HF_HUB_OFFLINE',
    default: '0',
    description: '1 = use the local cache only; a missing file is a clear error',
  },
]

/** The validated environment. */
export interface PloraEnv {
  configFile?: string
  baseModel?: string
  samples?: number
  /** Worker threads of grid commands (`PLORA_WORKERS`); undefined = the command's default (1). */
  workers?: number
  split?: (typeof SPLITS)[number]
  latencyBudgetMs?: number
  pretrainSteps?: number
  /** Which embedded preset `embedded` means (`PLORA_EMBEDDED_MODEL`); undefined = `small`. */
  embeddedModel?: (typeof EMBEDDED_MODELS)[number]
  backend: BackendName
  forceCpu: boolean
  nativeKernels: NativeKernelsName
  logLevel: LogLevel
  cacheDir: string
  datasetRetries: number
  datasetRetryBackoffS: number
  hfHome: string
  hfHubCache: string
  hfEndpoint: string
  hfToken?: string
  hfHubOffline: boolean
}

function bad(name: string, expected: string, found: string): never {
  throw new ConfigError(
    ConfigErrorCode.EnvInvalid,
    `environment variable ${name}: expected ${expected}, found "${found}"`,
    {
      name,
      found,
    },
  )
}

function flag(env: NodeJS.ProcessEnv, name: string): boolean {
  const v = env[name]?.trim().toLowerCase()
  if (v === undefined || v === '') return false
  if (['1', 'true', 'yes', 'on'].includes(v)) return true
  if (['0', 'false', 'no', 'off'].includes(v)) return false
  return bad(name, '1/0, true/false, yes/no or on/off', env[name]!)
}

// Decimal only: `0x10`, `1e3`, `0b1`, `Infinity`, `+5`, ` 5 ` inside and `1_000` are refused
// (`Number()` would read several of them). Integers have no leading zeros beyond `0` itself.
const ENV_INT = /^(?:0|[1-9][0-9]*)$/
const ENV_DECIMAL = /^(?:0|[1-9][0-9]*)(?:\.[0-9]+)?$/

/**
 * A number variable: surrounding whitespace is ignored (as Python's `int()` does) and a blank
 * value means unset; otherwise a plain decimal (`ENV_INT` / `ENV_DECIMAL`) in [min, max], the
 * bounds being the exported `MAX_ENV_*` constants.
 */
function num(
  env: NodeJS.ProcessEnv,
  name: string,
  opts: { int?: boolean; min: number; max: number },
): number | undefined {
  const v = env[name]?.trim()
  if (v === undefined || v === '') return undefined
  const expected = `a decimal ${opts.int ? 'integer' : 'number'} from ${opts.min} to ${opts.max}`
  // The length bound keeps a 20-digit value from ever reaching Number().
  if (v.length > 24 || !(opts.int ? ENV_INT : ENV_DECIMAL).test(v)) bad(name, expected, v)
  const n = Number(v)
  if (!Number.isFinite(n) || (opts.int && !Number.isSafeInteger(n)) || n < opts.min || n > opts.max) {
    bad(name, expected, v)
  }
  return n
}

function oneOf<T extends string>(env: NodeJS.ProcessEnv, name: string, allowed: readonly T[]): T | undefined {
  const v = env[name]?.trim()
  if (v === undefined || v === '') return undefined
  const lower = v.toLowerCase() as T
  if (!allowed.includes(lower)) bad(name, `one of ${allowed.join(', ')}`, v)
  return lower
}

function str(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name]?.trim()
  return v === undefined || v === '' ? undefined : v
}

/** Reads and validates every plora environment variable (defaults filled in). */
export function readEnv(env: NodeJS.ProcessEnv = process.env): PloraEnv {
  const home = homedir()
  const hfHome = str(env, 'HF_HOME') ?? join(str(env, 'XDG_CACHE_HOME') ?? join(home, '.cache'), 'huggingface')
  const out: PloraEnv = {
    backend: oneOf(env, 'PLORA_BACKEND', BACKENDS) ?? 'auto',
    forceCpu: flag(env, 'PLORA_FORCE_CPU'),
    nativeKernels: oneOf(env, 'PLORA_NATIVE_KERNELS', NATIVE_KERNELS) ?? 'auto',
    logLevel: oneOf(env, 'PLORA_LOG_LEVEL', LOG_LEVELS) ?? 'info',
    cacheDir: str(env, 'PLORA_CACHE_DIR') ?? join(str(env, 'XDG_CACHE_HOME') ?? join(home, '.cache'), 'plora'),
    datasetRetries:
      num(env, 'PLORA_DATASET_RETRIES', { int: true, min: 1, max: MAX_ENV_DATASET_RETRIES }) ??
      DEFAULT_ENV_DATASET_RETRIES,
    datasetRetryBackoffS:
      num(env, 'PLORA_DATASET_RETRY_BACKOFF', { min: 0, max: MAX_ENV_RETRY_BACKOFF_S }) ?? DEFAULT_ENV_RETRY_BACKOFF_S,
    hfHome,
    hfHubCache: str(env, 'HF_HUB_CACHE') ?? str(env, 'HUGGINGFACE_HUB_CACHE') ?? join(hfHome, 'hub'),
    hfEndpoint: (str(env, 'HF_ENDPOINT') ?? 'https://huggingface.co').replace(/\/+$/, ''),
    hfHubOffline: flag(env, 'HF_HUB_OFFLINE'),
  }
  const configFile = str(env, 'PLORA_CONFIG')
  if (configFile) out.configFile = configFile
  const baseModel = str(env, 'PLORA_BASE_MODEL')
  if (baseModel) out.baseModel = baseModel
  const samples = num(env, 'PLORA_SAMPLES', { int: true, min: 1, max: MAX_ENV_SAMPLES })
  if (samples !== undefined) out.samples = samples
  const workers = num(env, 'PLORA_WORKERS', { int: true, min: 1, max: MAX_ENV_WORKERS })
  if (workers !== undefined) out.workers = workers
  const split = oneOf(env, 'PLORA_SPLIT', SPLITS)
  if (split) out.split = split
  const pretrainSteps = num(env, 'PLORA_PRETRAIN_STEPS', { int: true, min: 0, max: MAX_ENV_PRETRAIN_STEPS })
  if (pretrainSteps !== undefined) out.pretrainSteps = pretrainSteps
  const embeddedModel = oneOf(env, 'PLORA_EMBEDDED_MODEL', EMBEDDED_MODELS)
  if (embeddedModel) out.embeddedModel = embeddedModel
  const budget = num(env, 'PLORA_LATENCY_BUDGET_MS', { min: 1, max: MAX_ENV_LATENCY_BUDGET_MS })
  if (budget !== undefined) out.latencyBudgetMs = budget
  const token = str(env, 'HF_TOKEN') ?? str(env, 'HUGGING_FACE_HUB_TOKEN')
  if (token) out.hfToken = token
  return out
}
