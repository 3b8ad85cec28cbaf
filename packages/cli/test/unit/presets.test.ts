import { resolve } from 'node:path'
import { loadConfigFile } from '@plora/config'
import { parseDomainSources } from '@plora/datasets'
import { describe, expect, it } from 'vitest'

const REPO = resolve(import.meta.dirname, '../../../..')

describe('shipped presets and the packages that read them', () => {
  for (const preset of ['dry', 'full']) {
    it(`${preset}: data.sources is valid for @plora/datasets and covers every configured domain`, () => {
      const cfg = loadConfigFile(resolve(REPO, `config/plora.${preset}.yml`))
      const sources = parseDomainSources(cfg.data?.sources)
      expect(Object.keys(sources).sort()).toEqual([...cfg.domains].sort())
    })
  }
})
