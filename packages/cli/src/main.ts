import { isPloraError } from '@plora/common'
import { type Command, CommanderError } from 'commander'
import { exitCodeFor } from './exit-codes.js'
import { resolveHelpTarget } from './flags.js'
import { commandPath, createProgram } from './program.js'

/** Commander error codes that are not failures (help and version output). */
const OK_CODES = new Set(['commander.helpDisplayed', 'commander.version', 'commander.help'])

/**
 * Runs `plora` with `argv` (as `process.argv`) and returns the exit status: 0 success, 2 usage error
 * (unknown command or flag, bad argument), 1 for a `PloraError` (one line on stderr, or the
 * command's own exit-code map) and 1 with a stack for anything else, which is a bug.
 */
export async function main(argv: readonly string[]): Promise<number> {
  const program = createProgram()
  let active: Command | undefined
  program.hook('preAction', (_root, actionCommand) => {
    active = actionCommand
  })
  try {
    await resolveHelpTarget(program, argv.slice(2))
    await program.parseAsync([...argv])
    return typeof process.exitCode === 'number' ? process.exitCode : 0
  } catch (e) {
    if (e instanceof CommanderError) {
      if (OK_CODES.has(e.code)) return e.code === 'commander.help' && argv.length <= 2 ? 2 : 0
      return 2
    }
    if (isPloraError(e)) {
      const name = active ? commandPath(active) : ''
      process.stderr.write(`plora${name ? ` ${name}` : ''}: ${e.message} [${e.code}]\n`)
      return exitCodeFor(active, e.code)
    }
    process.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`)
    process.stderr.write('plora: internal error — this is a bug; please report it with the command line above.\n')
    return 1
  }
}
