import type { Logger } from '@plora/common'
import type { PloraEnv } from '@plora/config'

/** The backend options the environment asks for (`PLORA_BACKEND`, `PLORA_FORCE_CPU`, `PLORA_NATIVE_KERNELS`). */
export function backendOptionsOf(env: PloraEnv, logger: Logger) {
  return { backend: env.backend, forceCpu: env.forceCpu, nativeKernels: env.nativeKernels, logger }
}

/**
 * The one place the CLI turns a base-model reference into a model folder, so every command agrees:
 * `--base-model`/`--model` flag → `PLORA_BASE_MODEL` → the active config's `base_model`; then
 * `embedded` is plora's own small GPT-2 (`PLORA_EMBEDDED_MODEL` picks `small`, the default, or
 * `tiny`; `embedded-small`/`embedded-tiny` name one): the committed weights under `assets/` when
 * they are the requested budget, else pretrained into the plora cache on first use (a fixed,
 * deterministic budget), so every command sees the same weights — a local folder is used as is, and a
 * Hugging Face id is looked up in the hub cache (downloaded when online).
 * Also selects the TensorFlow.js backend (once per process).
 */
export async function resolveBaseModelDir(
  flag: string | undefined,
  components: { env: PloraEnv; logger: Logger; configBaseModel?: string; pretrainSteps?: number },
): Promise<{ spec: string; dir: string }> {
  const { env, logger } = components
  let spec = flag ?? env.baseModel ?? components.configBaseModel
  if (spec === undefined) {
    const { loadActiveConfig } = await import('@plora/config')
    spec = loadActiveConfig(env.configFile ? { file: env.configFile } : {}).config.base_model
  }
  const m = await import('@plora/model')
  await m.initBackend(backendOptionsOf(env, logger))
  const preset = m.embeddedPresetOf(spec, env.embeddedModel)
  if (preset !== undefined) {
    const { ensurePretrainedBaseModel } = await import('@plora/trainer')
    const { createProgressReporter } = await import('./progress-bar.js')
    const steps = components.pretrainSteps ?? env.pretrainSteps
    const dir = await ensurePretrainedBaseModel({
      cacheDir: env.cacheDir,
      preset,
      onProgress: createProgressReporter(),
      ...(steps !== undefined ? { steps } : {}),
    })
    return { spec, dir }
  }
  const dir = await m.resolveModelSpec(spec, {
    ploraCacheDir: env.cacheDir,
    cacheDir: env.hfHubCache,
    hfHome: env.hfHome,
    offline: env.hfHubOffline,
    endpoint: env.hfEndpoint,
    ...(env.hfToken ? { token: env.hfToken } : {}),
  })
  return { spec, dir }
}
