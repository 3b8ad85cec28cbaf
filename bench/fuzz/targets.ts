/**
 * The validator and writer entry points the fuzz harness calls — the one place to re-point when
 * a package moves (e.g. the PEFT config to `@plora/peft`). Every oracle imports only from here.
 */
export { createRng, deriveSeed, isPloraError, type Rng } from '../../packages/common/src/index.js'
export {
  loadConfigFile,
  MAX_ENV_DATASET_RETRIES,
  MAX_ENV_PRETRAIN_STEPS,
  MAX_ENV_SAMPLES,
  parseConfigText,
  readEnv,
} from '../../packages/config/src/index.js'
export { loadManifestFile, parseManifest } from '../../packages/manifest/src/index.js'
// The PEFT adapter format: @plora/peft (TensorFlow-free), the one reader the loader and gate share.
export {
  buildPeftLoraConfig,
  loadPeftAdapter,
  moduleRank,
  moduleScale,
  parsePeftLoraConfig,
  serializePeftLoraConfig,
} from '../../packages/peft/src/index.js'
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
