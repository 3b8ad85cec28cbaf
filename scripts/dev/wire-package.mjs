#!/usr/bin/env node
// Wires a workspace package into the shared build files, safely under a lock:
//   flock /tmp/plora-shared.lock node scripts/dev/wire-package.mjs <name> [--cli] [--dep <name> ...]
// <name> is the folder under packages/ (e.g. "signer"). It adds packages/<name> to
// tsconfig.build.json; with --cli it also adds "@plora/<name>": "workspace:*" to the CLI's
// dependencies and a project reference to packages/cli/tsconfig.json. Idempotent.
import { readFileSync, writeFileSync } from 'node:fs'

const args = process.argv.slice(2)
const name = args[0]
if (!name || name.startsWith('-')) {
  console.error('usage: wire-package.mjs <name> [--cli]')
  process.exit(2)
}
const stripComments = (t) => t.replace(/^\s*\/\/.*$/gm, '')
const readJson = (p) => JSON.parse(stripComments(readFileSync(p, 'utf8')))
const writeJson = (p, v) => writeFileSync(p, `${JSON.stringify(v, null, 2)}\n`)

const build = readJson('tsconfig.build.json')
if (!build.references.some((r) => r.path === `packages/${name}`)) {
  build.references.push({ path: `packages/${name}` })
  writeJson('tsconfig.build.json', build)
}
if (args.includes('--cli')) {
  const pkg = readJson('packages/cli/package.json')
  pkg.dependencies[`@plora/${name}`] = 'workspace:*'
  pkg.dependencies = Object.fromEntries(Object.entries(pkg.dependencies).sort(([a], [b]) => a.localeCompare(b)))
  writeJson('packages/cli/package.json', pkg)
  const ts = readJson('packages/cli/tsconfig.json')
  if (!ts.references.some((r) => r.path === `../${name}`)) {
    ts.references.push({ path: `../${name}` })
    writeJson('packages/cli/tsconfig.json', ts)
  }
}
console.log(`wired packages/${name}${args.includes('--cli') ? ' (+cli)' : ''}`)
