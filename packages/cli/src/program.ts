import { Command } from 'commander'
import { COMMAND_GROUPS } from './commands/index.js'
import { asksForHelp, oneLine, resolveLibraryDefaults } from './flags.js'

/** The plora version printed by `plora --version`. */
export const PLORA_VERSION = '0.1.0'

/**
 * Builds the `plora` commander program (a factory, so tests can build and parse it in-process).
 * Parse errors throw instead of exiting, so `main` maps every failure in one place.
 */
export function createProgram(): Command {
  const program = new Command('plora')
    .description('LoRA plasmids: train, sign, offer/fetch, gate, merge, and spread them through a simulated swarm')
    .version(PLORA_VERSION)
    .showSuggestionAfterError(true)
    .configureHelp({ sortSubcommands: true, showGlobalOptions: false })
  for (const register of COMMAND_GROUPS) register(program)
  applyToAll(program, (cmd) => {
    cmd.exitOverride()
    cmd.allowExcessArguments(false)
    cmd.configureOutput({ outputError: (text, write) => write(oneLine(text)) })
    // A subcommand's library defaults load just before its help is shown, else once its flags parsed.
    if (cmd.commands.length > 0) {
      cmd.hook('preSubcommand', async (parent, sub) => {
        if (asksForHelp(parent.args)) await resolveLibraryDefaults(sub)
      })
    }
  })
  program.hook('preAction', (_root, action) => resolveLibraryDefaults(action))
  return program
}

function applyToAll(cmd: Command, f: (c: Command) => void): void {
  f(cmd)
  for (const sub of cmd.commands) applyToAll(sub, f)
}

/** The full name of a command, e.g. `config get`. */
export function commandPath(cmd: Command): string {
  const names: string[] = []
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name())
  return names.join(' ')
}
