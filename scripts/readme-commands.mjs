#!/usr/bin/env node
// Renders the README's command table from the built `plora` program, so the README cannot drift
// from the CLI. `node scripts/readme-commands.mjs --write` rewrites the block between the
// `<!-- commands:start -->` / `<!-- commands:end -->` markers; without --write it prints the block.
// (tests/readme.test.ts fails when the committed README differs from what this renders.)
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const { createProgram } = await import(join(ROOT, 'packages/cli/dist/program.js'))

/** Renders the block for a commander program. */
export function renderCommands(program) {
  const rows = []
  const visit = (cmd, prefix) => {
    for (const sub of cmd.commands) {
      if (sub.name() === 'help') continue
      const name = `${prefix} ${sub.name()}`.trim()
      // A command with its own action and subcommands (`plora sweep` and `plora sweep merge`) gets
      // a row of its own before its subcommands'; commander keeps the action in `_actionHandler`.
      if (sub.commands.length === 0 || sub._actionHandler) {
        const args = sub.registeredArguments.map((a) => (a.required ? `<${a.name()}>` : `[${a.name()}]`)).join(' ')
        rows.push(`| \`plora ${name}${args ? ` ${args}` : ''}\` | ${sub.description().replace(/\|/g, '\\|')} |`)
      }
      if (sub.commands.length > 0) visit(sub, name)
    }
  }
  visit(program, '')
  return [
    "`npx plora --help` is the authoritative list; each command's `--help` shows its flags and defaults.",
    '',
    '| Command | What it does |',
    '| --- | --- |',
    ...rows,
  ].join('\n')
}

const block = renderCommands(createProgram())
if (process.argv.includes('--write')) {
  const path = join(ROOT, 'README.md')
  const text = readFileSync(path, 'utf8')
  const re = /(<!-- commands:start -->\n)[\s\S]*?(\n<!-- commands:end -->)/
  if (!re.test(text)) throw new Error('README.md has no commands:start/end markers')
  writeFileSync(path, text.replace(re, `$1${block}$2`))
  console.log('README.md command table updated')
} else {
  console.log(block)
}
