/**
 * Loads a causal LM from a Hugging Face model folder (`config.json` + safetensors weights).
 */
import { existsSync, statSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Gemma3Model } from './arch/gemma3.js'
import { Gpt2Model } from './arch/gpt2.js'
import { LlamaModel } from './arch/llama.js'
import { ModelError, ModelErrorCode } from './errors.js'
import { type ResolveModelOptions, resolveModelDir } from './hub.js'
import { parseModelConfig } from './model-config.js'
import type { CausalLM, ModelConfig } from './types.js'
import { readModelWeights } from './weights.js'

/** Reads and parses `<modelDir>/config.json`. */
export async function readModelConfig(modelDir: string): Promise<ModelConfig> {
  const p = join(modelDir, 'config.json')
  if (!existsSync(p)) {
    throw new ModelError(
      ModelErrorCode.FolderNotFound,
      `no config.json in ${modelDir}: not a Hugging Face model folder`,
      {
        path: modelDir,
      },
    )
  }
  let raw: unknown
  try {
    raw = JSON.parse(await readFile(p, 'utf8'))
  } catch (e) {
    throw new ModelError(ModelErrorCode.ConfigInvalid, `${p} is not valid JSON`, { path: p }, { cause: e })
  }
  return parseModelConfig(raw, p)
}

/**
 * Loads the model in a local folder. Call {@link initBackend} first; the weights become
 * float32 variables on the active backend. Use `loadCausalLM` from the package index to also
 * resolve hub ids and cache entries.
 */
export async function loadCausalLMFromDir(modelDir: string): Promise<CausalLM> {
  if (!existsSync(modelDir) || !statSync(modelDir).isDirectory()) {
    throw new ModelError(ModelErrorCode.FolderNotFound, `model folder ${modelDir} does not exist`, { path: modelDir })
  }
  const config = await readModelConfig(modelDir)
  const weights = await readModelWeights(modelDir)
  if (config.model_type === 'gpt2') return new Gpt2Model(config, weights, modelDir)
  if (config.model_type === 'gemma3_text') return new Gemma3Model(config, weights, modelDir)
  return new LlamaModel(config, weights, modelDir)
}

/**
 * Loads a causal LM from a local folder, a Hugging Face cache entry or (online) the hub; see
 * {@link resolveModelDir}. Call {@link initBackend} first.
 *
 * @example
 * ```ts
 * await initBackend({ backend: 'auto' })
 * const model = await loadCausalLM('/path/to/model')
 * ```
 */
export async function loadCausalLM(
  modelDirOrId: string,
  options: Partial<ResolveModelOptions> = {},
): Promise<CausalLM> {
  return loadCausalLMFromDir(await resolveModelDir(modelDirOrId, options))
}
