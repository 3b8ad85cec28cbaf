/**
 * @packageDocumentation
 * `@plora/config`: the YAML configuration (schema, `dry`/`full` presets, the override file written
 * by `plora config use`, dotted-path lookup) and every environment variable plora reads.
 *
 * @example
 * const { config, path } = loadActiveConfig()
 * getConfigValue(config, 'value_add.ranks[0]') // 1 under the dry config
 */

export { BACKENDS, type BackendName, ENV_VARS, type PloraEnv, readEnv } from './env.js'
export { ConfigError, ConfigErrorCode } from './errors.js'
export { formatConfigValue } from './format.js'
export { getConfigValue, parseConfigPath } from './get.js'
export {
  type ActiveConfigOptions,
  findProjectRoot,
  loadActiveConfig,
  loadConfigFile,
  OVERRIDE_FILE,
  PRESETS,
  type PresetName,
  parseConfigText,
  resolveConfigPath,
  useConfig,
} from './load.js'
export { type PloraConfig, PloraConfigSchema, SPLITS, TARGET_SCHEMES } from './schema.js'
