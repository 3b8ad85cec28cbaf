#!/usr/bin/env node
// Writes the tiny checkpoints of model-cases.json with @plora/model's deterministic generator
// (the same code the golden test runs), for make-model-goldens.py and torch-forward.py to read.
// Usage (from the repo root):
//   npx tsc -b packages/model && node packages/model/scripts/golden/write-golden-models.mjs /tmp/golden-models
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseModelConfig, randomModelWeights, writeModelFolder } from '../../dist/index.js'

const out = process.argv[2]
if (!out) {
  process.stderr.write('usage: write-golden-models.mjs <out-dir>\n')
  process.exit(2)
}
const { cases } = JSON.parse(readFileSync(new URL('./model-cases.json', import.meta.url), 'utf8'))
for (const c of cases) {
  const weights = randomModelWeights(parseModelConfig(c.config, c.name), c.seed, c.init)
  await writeModelFolder(join(out, c.name), { config: c.config, weights }, { replace: true })
  process.stdout.write(`wrote ${join(out, c.name)}\n`)
}
