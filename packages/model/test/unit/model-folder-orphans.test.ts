/**
 * Issue 15 point 9 (orphans): a pretraining run killed with SIGKILL while it writes the base model
 * leaves a staging folder `.model.<pid>.<hex>.staging.tmp` (and maybe a temp file) next to the
 * model folder. The next run's writeModelFolder removes them before it stages its own copy. The
 * killed writer is a real child process running @plora/common's createStagingDir, the call
 * writeModelFolder makes.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseTempName } from '@plora/common'
import { describe, expect, it } from 'vitest'
import { writeModelFolder } from '../../src/model-folder.js'

const FIXTURE = fileURLToPath(new URL('../../../common/test/fixtures/leave-temps.ts', import.meta.url))

describe('writeModelFolder after a killed run', () => {
  it('removes the staging folder and temp file the killed run left', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plora-model-orphans-'))
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, dir], { stdio: ['ignore', 'pipe', 'pipe'] })
      await new Promise<void>((resolve, reject) => {
        createInterface({ input: child.stdout }).once('line', () => resolve())
        child.once('exit', (code) => reject(new Error(`child exited early (${code})`)))
      })
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve())
        child.kill('SIGKILL')
      })
      const orphans = await readdir(dir)
      expect(orphans.map((n) => parseTempName(n)?.kind).sort()).toEqual(['file', 'staging'])
      await writeModelFolder(join(dir, 'model'), {
        config: { model_type: 'gpt2' },
        weights: new Map([['w', { data: new Float32Array([1, 2]), shape: [2] }]]),
      })
      expect(await readdir(dir)).toEqual(['model'])
      expect((await readdir(join(dir, 'model'))).sort()).toEqual(['config.json', 'model.safetensors'])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }, 30_000)
})
