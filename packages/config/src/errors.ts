import { PloraError } from '@plora/common'

/** Error codes of `@plora/config`. */
export const ConfigErrorCode = {
  NotFound: 'CONFIG_FILE_NOT_FOUND',
  YamlInvalid: 'CONFIG_YAML_INVALID',
  TooLarge: 'CONFIG_FILE_TOO_LARGE',
  SchemaInvalid: 'CONFIG_SCHEMA_INVALID',
  KeyNotFound: 'CONFIG_KEY_NOT_FOUND',
  PathInvalid: 'CONFIG_PATH_INVALID',
  EnvInvalid: 'CONFIG_ENV_INVALID',
} as const
export type ConfigErrorCode = (typeof ConfigErrorCode)[keyof typeof ConfigErrorCode]

/** The error class of `@plora/config`. */
export class ConfigError extends PloraError<ConfigErrorCode> {
  override name = 'ConfigError'
}
