/** Temporary folders for tests. */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Creates a fresh, empty folder under the OS temp dir. */
export function makeTmpDir(prefix = 'plora-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}
