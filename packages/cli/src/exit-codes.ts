import type { Command } from 'commander'

/**
 * Per-command exit codes (STYLE.md §4): a command whose exit statuses the spec fixes (e.g. verify:
 * 1 for a hash mismatch, 2 for a bad signature) attaches a `PloraError code → exit status` map.
 */
export type ExitCodeMap = Readonly<Record<string, number>>

const maps = new WeakMap<Command, ExitCodeMap>()

/** Attaches an exit-code map to a command. */
export function setExitCodes(command: Command, map: ExitCodeMap): Command {
  maps.set(command, map)
  return command
}

/** The exit status for an error code raised by `command`, or 1. */
export function exitCodeFor(command: Command | undefined, code: string): number {
  return (command && maps.get(command)?.[code]) ?? 1
}
