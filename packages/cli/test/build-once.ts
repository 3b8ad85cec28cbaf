import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { resolve } from 'node:path'

/** Vitest global setup: `tsc -b packages/cli` (the CLI and every package it references) so `bin/plora.js` runs the current sources. */
export default function setup(): void {
  const root = resolve(import.meta.dirname, '../../..')
  const tsc = createRequire(resolve(root, 'package.json')).resolve('typescript/bin/tsc')
  execFileSync(process.execPath, [tsc, '-b', 'packages/cli'], { cwd: root, stdio: 'inherit' })
}
