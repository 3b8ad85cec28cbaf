#!/usr/bin/env node
// Filters `pnpm install` output (stdin → stdout) for `make setup`: the optional native GPU
// backend @tensorflow/tfjs-node-gpu downloads libtensorflow in its install script; offline that
// fails with a Node stack trace of ~25 lines although nothing is wrong (pnpm drops the optional
// package and plora uses the WebAssembly/CPU backend). Its script's lines are held back and, on
// failure, replaced by one explanatory line; on success they are printed as they were.
import { createInterface } from 'node:readline'

const SCRIPT = /@tensorflow\/tfjs-node-gpu (?:postinstall|install)(?:\$|:)/
const held = []
let failed = false
const rl = createInterface({ input: process.stdin })
rl.on('line', (line) => {
  if (!SCRIPT.test(line)) {
    process.stdout.write(`${line}\n`)
    return
  }
  held.push(line)
  if (/install: Failed\s*$/.test(line)) failed = true
})
rl.on('close', () => {
  if (held.length === 0) return
  if (!failed) {
    process.stdout.write(`${held.join('\n')}\n`)
    return
  }
  const why =
    held.map((l) => l.replace(/^.*?install: /, '').trim()).find((l) => /^Error\b|E[A-Z]{3,}/.test(l)) ??
    'its install script failed'
  process.stdout.write(
    `[setup] optional @tensorflow/tfjs-node-gpu (native GPU backend) not installed: downloading libtensorflow failed (${why}; offline?). plora uses the WebAssembly/CPU backend instead; run 'make setup' with network access for the native one.\n`,
  )
})
