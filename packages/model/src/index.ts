/**
 * @packageDocumentation
 * `@plora/model`: the TensorFlow.js engine of plora — backend selection (native / wasm / cpu),
 * GPT-2, LLaMA-family (LLaMA, Mistral, Qwen2) and Gemma-3 text causal-LM forwards with LoRA side branches and a KV cache, Hugging Face
 * model folders (local, HF cache, hub download), tokenizers, the embedded default base model,
 * token NLL / perplexity and greedy generation. PEFT adapter files live in `@plora/loader`.
 */

export { setBaseTrainable } from './arch/base.js'
export {
  batchMatMul,
  causalSelfAttention,
  dense,
  dropoutMask,
  geluTanh,
  layerNormOp,
  softmaxCrossEntropy,
} from './arch/fast-ops.js'
export { Gemma3Model, gemma3ParamShapes, gemmaRmsNorm } from './arch/gemma3.js'
export { Gpt2Model, gpt2ParamShapes } from './arch/gpt2.js'
export { embeddingLookup } from './arch/layers.js'
export { LlamaModel, llamaParamShapes, ropeInverseFrequencies } from './arch/llama.js'
export {
  BACKEND_CHOICES,
  type BackendChoice,
  type ComputeSetup,
  currentComputeSetup,
  DEFAULT_INIT_BACKEND_OPTIONS,
  type InitBackendOptions,
  initBackend,
  initComputeSetup,
  wasmFilesDir,
} from './backend.js'
export {
  DEFAULT_EMBEDDED_PRESET,
  EMBEDDED_BASE_MODEL_NAME,
  EMBEDDED_BASE_MODEL_SEED,
  EMBEDDED_PRESET_NAMES,
  EMBEDDED_PRESETS,
  EMBEDDED_VOCAB_SIZE,
  type EmbeddedBaseModelOptions,
  type EmbeddedPreset,
  embeddedBaseModelConfig,
  ensureEmbeddedBaseModel,
  writeEmbeddedBaseModel,
} from './base-model.js'
export { type BpeModel, byteLevelTokenizerJson, bytesToUnicode, GPT2_PRETOKENIZE, trainByteLevelBpe } from './bpe.js'
export { EMBEDDED_CORPUS } from './embedded-corpus.js'
export { ModelError, ModelErrorCode } from './errors.js'
export { DEFAULT_GENERATE_OPTIONS, type GenerateOptions, type GenerateResult, generate } from './generate.js'
export {
  DEFAULT_RESOLVE_MODEL_OPTIONS,
  findCachedSnapshot,
  hubCacheDir,
  type ResolveModelOptions,
  repoFolderName,
  resolveModelDir,
} from './hub.js'
export { loadCausalLM, loadCausalLMFromDir, readModelConfig } from './load.js'
export { familyOf, parseModelConfig, SUPPORTED_MODEL_TYPES } from './model-config.js'
export { encodeModelWeights, type ModelFolderContents, writeModelFolder } from './model-folder.js'
export {
  describeModel,
  EMBEDDED_MODEL_SPEC,
  embeddedAssetDir,
  embeddedPresetOf,
  type ModelSummary,
  type ResolveModelSpecOptions,
  resolveModelSpec,
} from './model-spec.js'
export {
  activeNativeKernels,
  type GemmCall,
  installNativeMatMul,
  NATIVE_KERNEL_CHOICES,
  type NativeKernelChoice,
  nativeAddonPath,
  nativeGemm,
  nativeKernelsInfo,
  planMatMul,
  probeNativeAddon,
} from './native-kernels.js'
export {
  DEFAULT_RANDOM_WEIGHTS_OPTIONS,
  modelParamShapes,
  type RandomWeightsOptions,
  randomModelWeights,
} from './random-init.js'
export {
  DEFAULT_TOKEN_NLL_OPTIONS,
  encodePair,
  maskedCrossEntropy,
  type PairNll,
  perplexity,
  promptPrefix,
  type QaPair,
  type TokenNllOptions,
  tokenNlls,
} from './scoring.js'
export { loadTokenizer, type Tokenizer } from './tokenizer.js'
export type {
  CachedForwardResult,
  CausalLM,
  ForwardOptions,
  Gemma3Config,
  Gpt2Config,
  KvCache,
  LinearModule,
  LlamaConfig,
  LoraBranches,
  ModelConfig,
  ModelFamily,
} from './types.js'
export { type FloatTensorData, readFloatSafetensors, readModelWeights } from './weights.js'
