import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const REPO = resolve(import.meta.dirname, '..')

describe('README', () => {
  it('lists exactly the subcommands the program has (run `node scripts/readme-commands.mjs --write`)', () => {
    const rendered = execFileSync(process.execPath, ['scripts/readme-commands.mjs'], { cwd: REPO, encoding: 'utf8' })
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8')
    const block = /<!-- commands:start -->\n([\s\S]*?)\n<!-- commands:end -->/.exec(readme)?.[1]
    expect(block).toBe(rendered.trimEnd())
  })

  it('names the two quickstart commands, and .ci/run calls the test one', () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8')
    expect(readme).toMatch(/^make test\b/m)
    expect(readFileSync(join(REPO, '.ci/run'), 'utf8')).toMatch(/^make test$/m)
  })
})
