import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A fresh temporary folder and its cleanup. */
export async function makeTmpDir(label = 'plora-loader-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), label))
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) }
}
