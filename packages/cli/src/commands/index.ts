import type { Command } from 'commander'
import { register as registerConfig } from './config.js'

/**
 * Every subcommand group of `plora`. A module here only declares commands and flags (commander is
 * cheap); its actions `await import()` the heavy packages, so `plora --help` stays fast.
 * To add a group: write `./<group>.ts` exporting `register(program)`, then add it to this list.
 */
export const COMMAND_GROUPS: ReadonlyArray<(program: Command) => void> = [registerConfig]
