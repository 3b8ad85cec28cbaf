/**
 * @packageDocumentation
 * `@plora/config`: the YAML configuration (schema, `dry`/`full` presets, the override file written
 * by `plora config use`, dotted-path lookup) and every environment variable plora reads.
 *
 * @example
 * const { config, path } = loadActiveConfig()
 * getConfigValue(config, 'value_add.ranks[0]') // 1 under the dry config
 */

export {
  BACKENDS,
  type BackendName,
  DEFAULT_ENV_DATASET_RETRIES,
  DEFAULT_ENV_RETRY_BACKOFF_S,
  ENV_VARS,
  MAX_ENV_DATASET_RETRIES,
  MAX_ENV_LATENCY_BUDGET_MS,
  MAX_ENV_PRETRAIN_STEPS,
  MAX_ENV_RETRY_BACKOFF_S,
  MAX_ENV_SAMPLES,
  type PloraEnv,
  readEnv,
} from './env.js'
export { ConfigError, ConfigErrorCode } from './errors.js'
export { formatConfigValue } from './format.js'
export { getConfigValue, parseConfigPath } from './get.js'
export {
  type ActiveConfigOptions,
  findProjectRoot,
  loadActiveConfig,
  loadConfigFile,
  MAX_CONFIG_ALIASES,
  MAX_CONFIG_BYTES,
  MAX_CONFIG_EXTENDS_DEPTH,
  OVERRIDE_FILE,
  PRESETS,
  type PresetName,
  parseConfigText,
  resolveConfigPath,
  useConfig,
} from './load.js'
export { type PloraConfig, PloraConfigSchema, SPLITS, TARGET_SCHEMES } from './schema.js'
