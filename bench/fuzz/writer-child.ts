/**
 * Child process of the partial-file check: writes version A, then B, then A … of one output
 * through the real atomic writers until it is killed. Prints `ready` once the first write is
 * about to start. Usage: writer-child.ts <safetensors|manifest> <dest>
 */

import { writerVersions } from './writer-versions.js'
import { writeManifestFile, writeSafetensors } from './writers.js'

const [kind, dest] = process.argv.slice(2) as ['safetensors' | 'manifest', string]
const v = writerVersions(kind)
process.stdout.write('ready\n')
for (let k = 0; ; k++) {
  const which = k % 2 === 0 ? v.a : v.b
  if (kind === 'safetensors') await writeSafetensors(dest, which.tensors!, { format: 'pt' })
  else await writeManifestFile(dest, which.manifest!)
}
