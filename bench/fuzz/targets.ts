/**
 * The validator and writer entry points the fuzz harness calls — the one place to re-point when
 * a package moves (e.g. the PEFT config to `@plora/peft`). Every oracle imports only from here.
 */
export { createRng, deriveSeed, isPloraError, type Rng } from '../../packages/common/src/index.js'
export { loadConfigFile, parseConfigText, readEnv } from '../../packages/config/src/index.js'
// The PEFT adapter config. Only the config module is imported eagerly (the loader barrel pulls in
// TensorFlow.js); `loadPeftAdapter` — the real folder reader — is imported on first use.
export {
  buildPeftLoraConfig,
  moduleRank,
  moduleScale,
  parsePeftLoraConfig,
  serializePeftLoraConfig,
} from '../../packages/loader/src/adapter-config.js'
export { loadManifestFile, parseManifest } from '../../packages/manifest/src/index.js'
export {
  decodeSafetensors,
  openSafetensors,
  readSafetensors,
  SAFETENSORS_DTYPES,
} from '../../packages/safetensors/src/index.js'
export {
  dumpManifestYaml,
  encodeSafetensors,
  parseManifestYaml,
  writeFileAtomic,
  writeManifestFile,
  writeSafetensors,
} from './writers.js'

type LoadPeftAdapter = (dir: string) => Promise<unknown>
let loadPeftAdapterFn: LoadPeftAdapter | undefined

/** The loader's adapter-folder reader (`adapter_config.json` + `adapter_model.safetensors`). */
export async function loadPeftAdapter(dir: string): Promise<unknown> {
  loadPeftAdapterFn ??= (await import('../../packages/loader/src/peft-adapter.js')).loadPeftAdapter
  return loadPeftAdapterFn(dir)
}
