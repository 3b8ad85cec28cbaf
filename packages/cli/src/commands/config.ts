import type { Command } from 'commander'

/** `plora config …`: show, get, use, validate, path, env (spec pipelines.md §2.6). */
export function register(program: Command): void {
  const config = program.command('config').description('show, query and switch the active configuration')

  config
    .command('show', { isDefault: true })
    .description('print the whole active config as JSON')
    .action(async () => {
      const { loadActiveConfig, readEnv } = await import('@plora/config')
      const env = readEnv()
      const { config: cfg } = loadActiveConfig(env.configFile ? { file: env.configFile } : {})
      process.stdout.write(`${JSON.stringify(cfg, null, 2)}\n`)
    })

  config
    .command('get')
    .description('print one value by dotted path, e.g. samples, graph.p, value_add.ranks[0]')
    .argument('<path>', 'dotted path with optional [index] segments')
    .option('--csv', 'print a list as comma-separated values (4,8,16)', false)
    .option('--default <value>', 'print this instead of failing when the path does not exist')
    .action(async (path: string, opts: { csv: boolean; default?: string }) => {
      const { loadActiveConfig, readEnv, getConfigValue, formatConfigValue, ConfigErrorCode } = await import(
        '@plora/config'
      )
      const env = readEnv()
      const { config: cfg } = loadActiveConfig(env.configFile ? { file: env.configFile } : {})
      let value: unknown
      try {
        value = getConfigValue(cfg, path)
      } catch (e) {
        if (opts.default !== undefined && (e as { code?: string }).code === ConfigErrorCode.KeyNotFound) {
          process.stdout.write(`${opts.default}\n`)
          return
        }
        throw e
      }
      process.stdout.write(`${formatConfigValue(value, { csv: opts.csv })}\n`)
    })

  config
    .command('use')
    .description('make a preset (dry | full) or a YAML file the active config (writes config/plora.override.yml)')
    .argument('<preset>', '"dry", "full" or a path to a complete config file')
    .action(async (preset: string) => {
      const { useConfig } = await import('@plora/config')
      const { source } = await useConfig(preset)
      process.stdout.write(`Switched config to ${source}\n`)
    })

  config
    .command('path')
    .description('print the path of the active config file')
    .action(async () => {
      const { resolveConfigPath, readEnv } = await import('@plora/config')
      const env = readEnv()
      process.stdout.write(`${resolveConfigPath(env.configFile ? { file: env.configFile } : {})}\n`)
    })

  config
    .command('validate')
    .description('validate a config file (default: the active one) and report every problem')
    .argument('[file]', 'config file to check')
    .action(async (file: string | undefined) => {
      const { loadConfigFile, resolveConfigPath, readEnv } = await import('@plora/config')
      const env = readEnv()
      const path = file ?? resolveConfigPath(env.configFile ? { file: env.configFile } : {})
      loadConfigFile(path)
      process.stdout.write(`OK ${path}\n`)
    })

  config
    .command('env')
    .description('list the environment variables plora reads, with their effective values')
    .action(async () => {
      const { ENV_VARS, readEnv } = await import('@plora/config')
      const env = readEnv()
      const width = Math.max(...ENV_VARS.map((v) => v.name.length))
      for (const v of ENV_VARS) {
        const set = process.env[v.name]
        process.stdout.write(
          `${v.name.padEnd(width)}  ${set !== undefined ? `= ${set}` : `(default ${v.default})`}  ${v.description}\n`,
        )
      }
      process.stdout.write(`\neffective: ${JSON.stringify({ ...env, hfToken: env.hfToken ? '***' : undefined })}\n`)
    })
}
