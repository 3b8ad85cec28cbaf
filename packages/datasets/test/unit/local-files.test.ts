import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadDomainDataset, readLocalRows } from '../../src/index.js'

let dir: string
const N = 60
const rows = Array.from({ length: N }, (_, i) => ({
  prompt: `Local question ${i}, with a comma?`,
  response: `Local answer number ${i}.`,
}))

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plora-local-'))
  await writeFile(join(dir, 'qa.jsonl'), `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`)
  const csv = ['prompt,response', ...rows.map((r) => `"${r.prompt}","${r.response}"`)].join('\n')
  await writeFile(join(dir, 'qa.csv'), `\ufeff${csv}\n`)
  const pq = parquetWriteBuffer({
    columnData: [
      { name: 'prompt', data: rows.map((r) => r.prompt), type: 'STRING' },
      { name: 'response', data: rows.map((r) => r.response), type: 'STRING' },
    ],
  })
  await writeFile(join(dir, 'qa.parquet'), new Uint8Array(pq))
  await writeFile(join(dir, 'bad.jsonl'), '{"prompt": "x"}\nnot json\n')
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('local files', () => {
  it.each(['qa.jsonl', 'qa.csv', 'qa.parquet'])(
    'reads %s with configured columns into the same splits',
    async (file) => {
      const sources = { mine: { type: 'file' as const, path: file, question: 'prompt', answer: 'response' } }
      const all = await Promise.all(
        (['train', 'validation', 'test'] as const).map((split) =>
          loadDomainDataset('mine', { sources, split, baseDir: dir, validate: false }),
        ),
      )
      expect(all.reduce((n, d) => n + d.pairs.length, 0)).toBe(N)
      const jsonl = await loadDomainDataset('mine', {
        sources: { mine: { ...sources.mine, path: 'qa.jsonl' } },
        split: 'train',
        baseDir: dir,
        validate: false,
      })
      expect(all[0]!.pairs).toEqual(jsonl.pairs)
    },
  )

  it('names the missing column and the columns present', async () => {
    const err = await readLocalRows(join(dir, 'qa.csv'), ['question', 'response']).catch((e) => e)
    expect(err).toMatchObject({ code: 'DATASETS_COLUMN_MISSING', details: { missing: ['question'] } })
    expect(err.message).toContain('prompt, response')
    await expect(readLocalRows(join(dir, 'qa.parquet'), ['q'])).rejects.toMatchObject({
      code: 'DATASETS_COLUMN_MISSING',
    })
  })

  it('reports missing, unparsable and unknown-format files', async () => {
    await expect(readLocalRows(join(dir, 'nope.jsonl'), ['a'])).rejects.toMatchObject({
      code: 'DATASETS_FILE_NOT_FOUND',
    })
    await expect(readLocalRows(join(dir, 'bad.jsonl'), ['prompt'])).rejects.toMatchObject({
      code: 'DATASETS_FILE_INVALID',
    })
    await expect(readLocalRows(join(dir, 'qa.txt'), ['a'])).rejects.toMatchObject({ code: 'DATASETS_SOURCE_INVALID' })
    await writeFile(join(dir, 'junk.parquet'), 'not parquet at all')
    await expect(readLocalRows(join(dir, 'junk.parquet'), ['a'])).rejects.toMatchObject({
      code: 'DATASETS_FILE_INVALID',
    })
  })
})
