/**
 * @packageDocumentation
 * `@plora/cli`: the `plora` program. Import {@link createProgram} to build it in-process, or run
 * {@link main} with an argv.
 */
export { type ExitCodeMap, exitCodeFor, setExitCodes } from './exit-codes.js'
export { main } from './main.js'
export { commandPath, createProgram, PLORA_VERSION } from './program.js'
export { createProgressReporter } from './progress-bar.js'
