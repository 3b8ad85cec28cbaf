/**
 * The writer entry points (kept apart from `targets.ts` so the partial-file child process starts
 * fast: it loads only the safetensors and manifest packages). Re-exported by `targets.ts`.
 */
export { writeFileAtomic } from '../../packages/common/src/index.js'
export { dumpManifestYaml, parseManifestYaml, writeManifestFile } from '../../packages/manifest/src/index.js'
export { encodeSafetensors, writeSafetensors } from '../../packages/safetensors/src/index.js'
