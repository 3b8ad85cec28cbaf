#!/usr/bin/env node
import { main } from '../dist/main.js'

// `plora … | head` closes the pipe early: stop quietly, as Unix tools do, instead of crashing.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw e
  })
}
process.exitCode = await main(process.argv)
