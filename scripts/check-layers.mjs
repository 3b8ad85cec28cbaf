#!/usr/bin/env node
// Enforces the package layering of STYLE.md §3 and the absence of import cycles.
//
// Fails (exit 1) when:
//  - a package's src/ imports an @plora package that is not in a strictly lower layer;
//  - a package imports an @plora package it does not declare in package.json, or that its
//    tsconfig.json does not reference (tsc -b would build it out of order);
//  - test code imports an @plora package from a higher layer (the private @plora/testing is allowed
//    everywhere except in @plora/common, whose tests use their own helpers);
//  - the relative imports inside a package's src/ form a cycle (type-only imports excluded, since
//    they vanish at run time).
// Prints "layers OK" otherwise. No dependencies: the import scan is a regex over the TypeScript
// source, which is exact for the `import … from '…'` / `export … from '…'` / `import('…')` forms we use.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

// Usage: node scripts/check-layers.mjs [repo-root]
const ROOT = process.argv[2] ? resolve(process.argv[2]) : resolve(dirname(new URL(import.meta.url).pathname), '..')

/** STYLE.md §3: layer of each package. */
const LAYERS = {
  common: 0,
  config: 1,
  manifest: 1,
  signer: 1,
  safetensors: 1,
  metrics: 1,
  'it-estimators': 1,
  peft: 1,
  model: 1,
  loader: 2,
  datasets: 2,
  trainer: 3,
  gate: 3,
  grpc: 3,
  swarm: 4,
  experiments: 5,
  cli: 6,
  testing: 0.5,
}

/**
 * STYLE.md §3's "internal imports" column: the @plora packages each package's src/ may import.
 * `'*'` = any package of a strictly lower layer (experiments, cli). The README's package map
 * carries the same lists in its Imports column, and this script checks the two agree, so the table
 * a reader trusts is the table that is enforced. Every listed package must also be in a lower
 * layer, or be an explicit same-layer edge (model → safetensors, peft → safetensors); package-level
 * cycles are checked separately below.
 */
const ALLOWED = {
  common: [],
  config: ['common'],
  manifest: ['common'],
  signer: ['common'],
  safetensors: ['common'],
  peft: ['common', 'safetensors'],
  metrics: ['common'],
  'it-estimators': ['common'],
  model: ['common', 'safetensors'],
  loader: ['common', 'model', 'safetensors', 'manifest', 'peft'],
  datasets: ['common', 'config'],
  trainer: ['common', 'model', 'loader', 'datasets', 'manifest', 'metrics', 'peft'],
  gate: ['common', 'manifest', 'signer', 'safetensors', 'metrics', 'peft'],
  grpc: ['common', 'manifest', 'signer'],
  swarm: ['common', 'manifest', 'signer', 'gate', 'grpc', 'it-estimators', 'metrics', 'peft', 'safetensors'],
  experiments: '*',
  cli: '*',
  testing: ['common'],
}
const SAME_LAYER = { model: ['safetensors'], peft: ['safetensors'] }

const errors = []
const fail = (msg) => errors.push(msg)

function walk(dir, out = []) {
  if (!existsSync(dir)) return out
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue
    const p = join(dir, name)
    if (statSync(p).isDirectory()) walk(p, out)
    else if (/\.(ts|mts|js|mjs)$/.test(name) && !name.endsWith('.d.ts')) out.push(p)
  }
  return out
}

const IMPORT_RE =
  /(?:^|[\s;])(import|export)\s+(type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm

/** Runtime and type-only module specifiers of a file. */
function importsOf(file) {
  const text = readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '')
  const out = []
  for (const m of text.matchAll(IMPORT_RE)) {
    const spec = m[3] ?? m[4]
    if (spec) out.push({ spec, typeOnly: Boolean(m[2]) })
  }
  return out
}

function readJson(p) {
  return JSON.parse(readFileSync(p, 'utf8').replace(/^\s*\/\/.*$/gm, ''))
}

const packagesDir = join(ROOT, 'packages')
const packages = readdirSync(packagesDir).filter((n) => existsSync(join(packagesDir, n, 'package.json')))

for (const name of packages) {
  const dir = join(packagesDir, name)
  const layer = LAYERS[name]
  if (layer === undefined) {
    fail(`packages/${name}: not in the layer table of STYLE.md §3 (add it to scripts/check-layers.mjs deliberately)`)
    continue
  }
  const pkg = readJson(join(dir, 'package.json'))
  const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})])
  const tsconfig = existsSync(join(dir, 'tsconfig.json')) ? readJson(join(dir, 'tsconfig.json')) : { references: [] }
  const referenced = new Set((tsconfig.references ?? []).map((r) => resolve(dir, r.path)))

  const check = (file, isTest) => {
    for (const { spec } of importsOf(file)) {
      const m = /^@plora\/([\w-]+)/.exec(spec)
      if (!m) continue
      const target = m[1]
      if (target === name) continue
      const where = relative(ROOT, file)
      const tLayer = LAYERS[target]
      if (tLayer === undefined) {
        fail(`${where}: imports unknown package @plora/${target}`)
        continue
      }
      if (isTest && target === 'testing') {
        if (name === 'common') fail(`${where}: @plora/common tests must not use @plora/testing (it depends on common)`)
      } else if (!(tLayer < layer) && !(SAME_LAYER[name] ?? []).includes(target)) {
        fail(
          `${where}: @plora/${name} (layer ${layer}) imports @plora/${target} (layer ${tLayer}); imports must point down`,
        )
      } else if (!isTest && ALLOWED[name] !== '*' && !(ALLOWED[name] ?? []).includes(target)) {
        fail(
          `${where}: @plora/${name} imports @plora/${target}, which is not in its STYLE.md §3 import list [${(ALLOWED[name] ?? []).join(', ')}] (scripts/check-layers.mjs ALLOWED, README package map)`,
        )
      }
      if (!declared.has(`@plora/${target}`))
        fail(`${where}: imports @plora/${target}, which packages/${name}/package.json does not declare`)
      if (!isTest && !referenced.has(join(packagesDir, target))) {
        fail(`${where}: imports @plora/${target}, which packages/${name}/tsconfig.json does not reference`)
      }
    }
  }
  const srcFiles = walk(join(dir, 'src'))
  for (const f of srcFiles) check(f, false)
  for (const f of walk(join(dir, 'test'))) check(f, true)

  // File-level cycles among runtime relative imports within src/.
  const graph = new Map()
  for (const f of srcFiles) {
    const deps = []
    for (const { spec, typeOnly } of importsOf(f)) {
      if (typeOnly || !spec.startsWith('.')) continue
      const base = resolve(dirname(f), spec)
      const cand = [base, base.replace(/\.js$/, '.ts'), base.replace(/\.mjs$/, '.mts'), join(base, 'index.ts')]
      const hit = cand.find((c) => existsSync(c) && statSync(c).isFile())
      if (hit) deps.push(hit)
    }
    graph.set(f, deps)
  }
  const state = new Map()
  const stack = []
  const visit = (f) => {
    state.set(f, 1)
    stack.push(f)
    for (const d of graph.get(f) ?? []) {
      if (state.get(d) === 1) {
        const cycle = stack.slice(stack.indexOf(d)).concat(d)
        fail(`import cycle in packages/${name}: ${cycle.map((c) => relative(dir, c)).join(' -> ')}`)
      } else if (!state.has(d)) visit(d)
    }
    stack.pop()
    state.set(f, 2)
  }
  for (const f of graph.keys()) if (!state.has(f)) visit(f)
}

// Package-level cycles over the declared @plora dependencies.
{
  const deps = new Map(
    packages.map((n) => {
      const pkg = readJson(join(packagesDir, n, 'package.json'))
      return [
        n,
        Object.keys(pkg.dependencies ?? {})
          .filter((d) => d.startsWith('@plora/'))
          .map((d) => d.slice(7)),
      ]
    }),
  )
  const state = new Map()
  const stack = []
  const visit = (n) => {
    state.set(n, 1)
    stack.push(n)
    for (const d of deps.get(n) ?? []) {
      if (state.get(d) === 1) fail(`package cycle: ${stack.slice(stack.indexOf(d)).concat(d).join(' -> ')}`)
      else if (!state.has(d) && deps.has(d)) visit(d)
    }
    stack.pop()
    state.set(n, 2)
  }
  for (const n of deps.keys()) if (!state.has(n)) visit(n)
}

// The README's package map lists the same imports (its Imports column).
if (existsSync(join(ROOT, 'README.md'))) {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const rows = new Map()
  for (const line of readme.split('\n')) {
    const m = /^\|\s*[\w.]+\s*\|\s*`@plora\/([\w-]+)`\s*\|([^|]*)\|/.exec(line)
    if (m) rows.set(m[1], m[2].trim())
  }
  for (const [name, allowed] of Object.entries(ALLOWED)) {
    if (!packages.includes(name)) continue
    const cell = rows.get(name)
    if (cell === undefined) {
      fail(`README.md: the package map has no row for @plora/${name} (Layer | Package | Imports | Owns)`)
      continue
    }
    const expected = allowed === '*' ? 'any lower layer' : allowed.length === 0 ? '—' : allowed.join(', ')
    if (cell !== expected) {
      fail(`README.md: @plora/${name}'s Imports cell says "${cell}", scripts/check-layers.mjs allows "${expected}"`)
    }
  }
  for (const [name, allowed] of Object.entries(ALLOWED)) {
    if (allowed === '*') continue
    for (const t of allowed) {
      if (!(LAYERS[t] < LAYERS[name]) && !(SAME_LAYER[name] ?? []).includes(t)) {
        fail(`ALLOWED lists @plora/${t} for @plora/${name}, which is not in a lower layer`)
      }
    }
  }
}

if (errors.length) {
  for (const e of errors) console.error(`check-layers: ${e}`)
  console.error(`check-layers: ${errors.length} problem(s)`)
  process.exit(1)
}
console.log(`layers OK (${packages.length} packages)`)
