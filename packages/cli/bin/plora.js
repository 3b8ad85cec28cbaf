#!/usr/bin/env node
import { existsSync } from 'node:fs'

// After `make clean` (or in a fresh clone) the compiled CLI is missing: say what to do in one line
// instead of Node's ERR_MODULE_NOT_FOUND stack.
const entry = new URL('../dist/main.js', import.meta.url)
if (!existsSync(entry)) {
  process.stderr.write(
    "plora: the CLI is not built (packages/cli/dist is missing): run 'make setup' (or 'make build') first\n",
  )
  process.exit(1)
}
const { main } = await import(entry.href)

// `plora … | head` closes the pipe early: stop quietly, as Unix tools do, instead of crashing.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw e
  })
}
process.exitCode = await main(process.argv)
