/**
 * Data-loading throughput (run with `pnpm --filter @plora/datasets bench`; not part of the tests):
 * parquet rows/s through hyparquet, hash splitting, the arithmetic generator, WordNet parsing.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bench, describe } from 'vitest'
import {
  buildPairs,
  defaultWordnetDir,
  generateArithmeticProblems,
  parseWordnetData,
  readParquetRows,
  splitPairs,
} from '../../src/index.js'
import { aquaRatParquet } from '../helpers/parquet-fixtures.js'

const ROWS = 20_000
const dir = mkdtempSync(join(tmpdir(), 'plora-bench-'))
const file = join(dir, 'train.parquet')
writeFileSync(
  file,
  aquaRatParquet(
    Array.from({ length: ROWS }, (_, i) => ({
      question: `Question ${i}: a train covers ${i} km.`,
      rationale: `Step one ${i}.\nAnswer: ${i}`,
    })),
  ),
)
const pairs = Array.from({ length: 100_000 }, (_, i) => ({ question: `Question ${i}?`, answer: `Answer ${i}.` }))
const nounData = readFileSync(join(defaultWordnetDir(), 'data.noun'), 'utf8')

describe('datasets', () => {
  bench(`read + build ${ROWS} aqua_rat rows from parquet`, async () => {
    buildPairs('aqua_rat', await readParquetRows(file, ['question', 'rationale']))
  })
  bench('hash-split 100,000 pairs', () => {
    splitPairs(pairs)
  })
  bench('generate 4,000 arithmetic problems', () => {
    generateArithmeticProblems({ count: 4000 })
  })
  bench('parse WordNet data.noun (82k synsets)', () => {
    parseWordnetData(nounData)
  })
})
