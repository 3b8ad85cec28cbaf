#!/usr/bin/env node
// Compares a rebuilt embedded base model folder with the committed one (`make base-model-rebuild`):
// the SHA-256 of every weight, tokenizer and config file, and the digests the committed
// plora_pretrain.json records. Exit 0 when all agree, 1 (naming each file) otherwise.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

const [committed, rebuilt] = process.argv.slice(2)
if (!committed || !rebuilt) {
  process.stderr.write('usage: compare-base-model.mjs <committed dir> <rebuilt dir>\n')
  process.exit(2)
}
const sha = (dir, f) =>
  createHash('sha256')
    .update(readFileSync(join(dir, f)))
    .digest('hex')
const marker = JSON.parse(readFileSync(join(committed, 'plora_pretrain.json'), 'utf8'))
let bad = 0
for (const f of ['model.safetensors', 'tokenizer.json', 'config.json', 'tokenizer_config.json']) {
  const a = sha(committed, f)
  const b = sha(rebuilt, f)
  const recorded = marker.sha256?.[f]
  const ok = a === b && (recorded === undefined || recorded === a)
  if (!ok) bad++
  process.stdout.write(
    `${ok ? 'same' : 'DIFFERENT'}  ${f}  committed ${a}  rebuilt ${b}${recorded && recorded !== a ? `  recorded ${recorded}` : ''}\n`,
  )
}
process.exit(bad === 0 ? 0 : 1)
