import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type FakeHub, startFakeHub } from '../../src/index.js'

describe('fake hub', () => {
  let hub: FakeHub
  beforeAll(async () => {
    hub = await startFakeHub({
      models: { 'org/tiny': { files: { 'config.json': '{"a":1}', 'sub/x.bin': new Uint8Array([1, 2, 3]) } } },
      datasets: { 'org/data': { files: { 'data/train.parquet': 'PAR1' }, sha: 'a'.repeat(40) } },
    })
  })
  afterAll(() => hub.close())

  it('lists a model repo with its sha and siblings', async () => {
    const r = await fetch(`${hub.url}/api/models/org/tiny`)
    const body = (await r.json()) as { sha: string; siblings: Array<{ rfilename: string }> }
    expect(body.sha).toMatch(/^[0-9a-f]{40}$/)
    expect(body.siblings.map((s) => s.rfilename).sort()).toEqual(['config.json', 'sub/x.bin'])
  })

  it('serves model and dataset files by branch and by commit', async () => {
    const m = await fetch(`${hub.url}/org/tiny/resolve/main/sub/x.bin`)
    expect(new Uint8Array(await m.arrayBuffer())).toEqual(new Uint8Array([1, 2, 3]))
    const d = await fetch(`${hub.url}/datasets/org/data/resolve/${'a'.repeat(40)}/data/train.parquet`)
    expect(await d.text()).toBe('PAR1')
    expect(d.headers.get('x-repo-commit')).toBe('a'.repeat(40))
  })

  it('answers 404 with the hub error code for missing files and repos', async () => {
    const f = await fetch(`${hub.url}/org/tiny/resolve/main/nope.txt`)
    expect(f.status).toBe(404)
    expect(f.headers.get('x-error-code')).toBe('EntryNotFound')
    const r = await fetch(`${hub.url}/api/datasets/org/none`)
    expect(r.headers.get('x-error-code')).toBe('RepoNotFound')
  })

  it('requires the bearer token when one is configured', async () => {
    const gated = await startFakeHub({ models: { g: { files: { a: 'b' } } }, token: 'hf_x' })
    try {
      expect((await fetch(`${gated.url}/g/resolve/main/a`)).status).toBe(401)
      const ok = await fetch(`${gated.url}/g/resolve/main/a`, { headers: { Authorization: 'Bearer hf_x' } })
      expect(await ok.text()).toBe('b')
    } finally {
      await gated.close()
    }
  })
})
