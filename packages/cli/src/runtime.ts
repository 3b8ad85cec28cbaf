import type { Logger } from '@plora/common'
import type { PloraConfig, PloraEnv } from '@plora/config'

/** What most commands need: the validated environment, the active config and a logger. */
export interface Runtime {
  env: PloraEnv
  config: PloraConfig
  configPath: string
  logger: Logger
}

/**
 * Loads the environment and the active config (env `PLORA_CONFIG` wins, then the override file,
 * then the dry preset) and creates the stderr logger at `PLORA_LOG_LEVEL`.
 */
export async function loadRuntime(): Promise<Runtime> {
  const { loadActiveConfig, readEnv } = await import('@plora/config')
  const { createLogger } = await import('@plora/common')
  const env = readEnv()
  const { config, path } = loadActiveConfig(env.configFile ? { file: env.configFile } : {})
  return { env, config, configPath: path, logger: createLogger({ level: env.logLevel, name: 'plora' }) }
}

/**
 * {@link loadRuntime} plus the base model a command's `--base-model` flag names (flag →
 * `PLORA_BASE_MODEL` → the config's `base_model`), resolved to a folder (see `resolveBaseModelDir`).
 */
export async function loadModelRuntime(
  baseModelFlag: string | undefined,
): Promise<Runtime & { baseModel: string; modelDir: string }> {
  const { resolveBaseModelDir } = await import('./base-model.js')
  const rt = await loadRuntime()
  const { spec, dir } = await resolveBaseModelDir(baseModelFlag, {
    env: rt.env,
    logger: rt.logger,
    configBaseModel: rt.config.base_model,
  })
  return { ...rt, baseModel: spec, modelDir: dir }
}
