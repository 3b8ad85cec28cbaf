import { execFileSync, spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const REPO = resolve(import.meta.dirname, '..')
const require = createRequire(import.meta.url)

describe('repository entry points', () => {
  it('`npx plora --help` works from the repo root (bin linked by the workspace)', () => {
    const r = spawnSync('npx', ['--no-install', 'plora', '--help'], { cwd: REPO, encoding: 'utf8', timeout: 60_000 })
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/Usage: plora/)
  })

  it('the layer/cycle check passes on this tree', () => {
    const out = execFileSync(process.execPath, ['scripts/check-layers.mjs'], { cwd: REPO, encoding: 'utf8' })
    expect(out).toMatch(/layers OK/)
  })

  it('every package follows the template: source condition, build script, tsconfig references', () => {
    for (const name of readdirSync(join(REPO, 'packages'))) {
      const pkg = JSON.parse(readFileSync(join(REPO, 'packages', name, 'package.json'), 'utf8'))
      expect(pkg.name, name).toBe(`@plora/${name}`)
      expect(pkg.type, name).toBe('module')
      expect(pkg.exports?.['.']?.['@plora/source'], name).toBe('./src/index.ts')
    }
  })

  it('the README documents every environment variable plora reads', async () => {
    const { ENV_VARS } = await import('../packages/config/src/index.js')
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8')
    for (const v of ENV_VARS) expect(readme, v.name).toContain(`\`${v.name}\``)
  })
})

describe('check-layers', () => {
  const { mkdtempSync, mkdirSync, writeFileSync } = require('node:fs') as typeof import('node:fs')
  const { tmpdir } = require('node:os') as typeof import('node:os')

  function fixture(files: Record<string, string>): string {
    const root = mkdtempSync(join(tmpdir(), 'plora-layers-'))
    for (const [p, text] of Object.entries(files)) {
      mkdirSync(join(root, p, '..'), { recursive: true })
      writeFileSync(join(root, p), text)
    }
    return root
  }
  const pkg = (name: string, deps: string[] = []) =>
    JSON.stringify({
      name: `@plora/${name}`,
      dependencies: Object.fromEntries(deps.map((d) => [`@plora/${d}`, 'workspace:*'])),
    })
  const ts = (refs: string[] = []) => JSON.stringify({ references: refs.map((r) => ({ path: `../${r}` })) })
  const run = (root: string) =>
    spawnSync(process.execPath, [join(REPO, 'scripts/check-layers.mjs'), root], { encoding: 'utf8' })

  it('accepts a downward import', () => {
    const root = fixture({
      'packages/common/package.json': pkg('common'),
      'packages/common/src/index.ts': 'export const a = 1\n',
      'packages/config/package.json': pkg('config', ['common']),
      'packages/config/tsconfig.json': ts(['common']),
      'packages/config/src/index.ts': "import { a } from '@plora/common'\nexport const b = a\n",
    })
    expect(run(root).status).toBe(0)
  })

  it("rejects a downward import that is not in the package's STYLE.md §3 list, and a README map that disagrees", () => {
    const files = {
      'packages/common/package.json': pkg('common'),
      'packages/common/src/index.ts': 'export const a = 1\n',
      'packages/safetensors/package.json': pkg('safetensors', ['common']),
      'packages/safetensors/tsconfig.json': ts(['common']),
      'packages/safetensors/src/index.ts': "import { a } from '@plora/common'\nexport const s = a\n",
      'packages/grpc/package.json': pkg('grpc', ['common', 'safetensors']),
      'packages/grpc/tsconfig.json': ts(['common', 'safetensors']),
      // grpc is layer 3 and safetensors layer 1, but grpc's list is common, manifest, signer
      'packages/grpc/src/index.ts': "import { s } from '@plora/safetensors'\nexport const g = s\n",
    }
    const r = run(fixture(files))
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/@plora\/grpc imports @plora\/safetensors, which is not in its STYLE\.md §3 import list/)

    const readme = [
      '| Layer | Package | Imports | Owns |',
      '| ----- | ------- | ------- | ---- |',
      '| 0 | `@plora/common` | — | base |',
      '| 1 | `@plora/safetensors` | common, signer | codec |',
    ].join('\n')
    const withReadme = fixture({
      'packages/common/package.json': pkg('common'),
      'packages/common/src/index.ts': 'export const a = 1\n',
      'packages/safetensors/package.json': pkg('safetensors', ['common']),
      'packages/safetensors/tsconfig.json': ts(['common']),
      'packages/safetensors/src/index.ts': "import { a } from '@plora/common'\nexport const s = a\n",
      'README.md': readme,
    })
    const d = run(withReadme)
    expect(d.status).toBe(1)
    expect(d.stderr).toMatch(/@plora\/safetensors's Imports cell says "common, signer"/)
    writeFileSync(join(withReadme, 'README.md'), readme.replace('common, signer', 'common'))
    expect(run(withReadme).status, run(withReadme).stderr).toBe(0)
  })

  it('rejects an upward or sideways import, an undeclared one, and a file cycle', () => {
    const root = fixture({
      'packages/common/package.json': pkg('common'),
      'packages/common/src/index.ts': "import { b } from '@plora/config'\nexport const a = b\n",
      'packages/config/package.json': pkg('config', ['common']),
      'packages/config/tsconfig.json': ts(['common']),
      'packages/config/src/index.ts':
        "import { x } from './x.js'\nimport { m } from '@plora/manifest'\nexport const b = x + m\n",
      'packages/config/src/x.ts': "import { b } from './index.js'\nexport const x = b\n",
      'packages/manifest/package.json': pkg('manifest'),
      'packages/manifest/src/index.ts': 'export const m = 1\n',
    })
    const r = run(root)
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/@plora\/common \(layer 0\) imports @plora\/config \(layer 1\)/)
    expect(r.stderr).toMatch(/@plora\/config \(layer 1\) imports @plora\/manifest \(layer 1\)/)
    expect(r.stderr).toMatch(/does not declare/)
    expect(r.stderr).toMatch(/import cycle in packages\/config: src\/index\.ts -> src\/x\.ts -> src\/index\.ts/)
  })
})
