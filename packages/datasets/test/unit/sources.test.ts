import { describe, expect, it } from 'vitest'
import {
  DEFAULT_DOMAIN_SOURCES,
  describeSource,
  HF_DOMAIN_SOURCES,
  parseDomainSources,
  parseSourceSpec,
} from '../../src/index.js'

describe('dataset sources', () => {
  it('maps the dry-run domains to embedded sources by default and the originals to the hub', () => {
    for (const d of ['arithmetic', 'legal', 'medical'])
      expect(DEFAULT_DOMAIN_SOURCES[d]).toEqual({ type: 'embedded', name: d })
    expect(describeSource(HF_DOMAIN_SOURCES.arithmetic!)).toBe('hf:deepmind/aqua_rat:raw')
    expect(HF_DOMAIN_SOURCES.legal).toMatchObject({ dataset: 'lex_glue', config: 'case_hold', pairs: 'case_hold' })
    expect(HF_DOMAIN_SOURCES.medical).toMatchObject({ dataset: 'openlifescienceai/medmcqa', pairs: 'medmcqa' })
  })

  it('parses the compact --source forms', () => {
    expect(parseSourceSpec('embedded:science')).toEqual({ type: 'embedded', name: 'science' })
    expect(parseSourceSpec('hf:deepmind/aqua_rat:raw')).toMatchObject({
      type: 'hf',
      dataset: 'deepmind/aqua_rat',
      config: 'raw',
      pairs: 'aqua_rat',
      revision: 'main',
    })
    expect(parseSourceSpec('hf:org/qa@v1.0?question=prompt&answer=response')).toMatchObject({
      dataset: 'org/qa',
      revision: 'v1.0',
      pairs: 'columns',
      question: 'prompt',
      answer: 'response',
    })
    expect(parseSourceSpec('file:data/x.csv?question=q')).toEqual({
      type: 'file',
      path: 'data/x.csv',
      question: 'q',
      answer: 'answer',
    })
  })

  it('rejects bad specs and config entries with the field named', () => {
    expect(() => parseSourceSpec('embedded:poetry')).toThrow(
      expect.objectContaining({ code: 'DATASETS_SOURCE_INVALID' }),
    )
    expect(() => parseSourceSpec('s3:bucket/x')).toThrow(/unknown kind/)
    expect(() => parseDomainSources({ legal: { type: 'hf', dataset: 'lex_glue', pairs: 'nope' } })).toThrow(
      /data\.sources\.legal\.pairs/,
    )
    expect(
      parseDomainSources({ legal: { type: 'hf', dataset: 'lex_glue', config: 'case_hold', pairs: 'case_hold' } }).legal,
    ).toMatchObject({ revision: 'main' })
  })
})
