import type { Command } from 'commander'
import { backendOptionsOf } from '../base-model.js'
import { defaultNote, parseEnum, parseIntFlag, parsePathFlag, setLibraryDefaults } from '../flags.js'

/** Flags shared by the commands that load a model. */
interface ModelFlags {
  model?: string
  adapter?: string
}

/** Loads the model (flag → $PLORA_BASE_MODEL → config base_model → embedded) and its tokenizer. */
async function openModel(flags: ModelFlags) {
  const { readEnv } = await import('@plora/config')
  const { createLogger } = await import('@plora/common')
  const env = readEnv()
  const logger = createLogger({ level: env.logLevel })
  const { resolveBaseModelDir } = await import('../base-model.js')
  const { dir } = await resolveBaseModelDir(flags.model, { env, logger })
  const m = await import('@plora/model')
  const model = await m.loadCausalLMFromDir(dir)
  const tokenizer = await m.loadTokenizer(dir)
  let release = (): void => model.dispose()
  if (flags.adapter !== undefined) {
    const loader = await import('@plora/loader')
    const peft = await import('@plora/peft')
    const adapter = await peft.loadPeftAdapter(flags.adapter)
    const handle = loader.injectAdapters(model, [adapter], { label: flags.adapter })
    release = () => {
      handle.remove()
      model.dispose()
    }
  }
  return { m, model, tokenizer, release }
}

/** `plora model info|nll`, `plora generate`, `plora base-model init` (issue 4 items 4 and 10). */
export function register(program: Command): void {
  const model = program.command('model').description('inspect and score causal language models')

  model
    .command('info')
    .description('print architecture, parameter count, vocabulary and the LoRA target modules per scheme')
    .argument(
      '[model]',
      'model folder, Hugging Face id or "embedded" (default: $PLORA_BASE_MODEL, else config base_model)',
    )
    .option('--json', 'print JSON', false)
    .action(async (spec: string | undefined, opts: { json: boolean }) => {
      const { m, model: lm, tokenizer, release } = await openModel(spec === undefined ? {} : { model: spec })
      try {
        const peft = await import('@plora/peft')
        const summary = m.describeModel(lm)
        const targets: Record<string, { suffixes: string[]; paths: number; peft_target_modules: string[] }> = {}
        for (const scheme of peft.TARGET_SCHEMES) {
          const r = peft.resolveTargetModules(lm.linearModules(), scheme)
          targets[scheme] = { suffixes: r.suffixes, paths: r.paths.length, peft_target_modules: r.peftTargetModules }
        }
        const info = {
          ...summary,
          tokenizerVocabSize: tokenizer.vocabSize,
          eosTokenId: tokenizer.eosTokenId ?? null,
          targets,
        }
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(info, null, 2)}\n`)
          return
        }
        const lines = [
          `model:        ${summary.modelDir}`,
          `architecture: ${summary.modelType} (${summary.family} family), ${summary.layers} layers, d_model ${summary.hiddenSize}, ${summary.heads} heads (${summary.kvHeads} kv, head dim ${summary.headDim}), MLP ${summary.mlpSize}, context ${summary.context}, ${summary.tiedHead ? 'tied' : 'untied'} head`,
          `parameters:   ${summary.parameters.toLocaleString('en-US')}`,
          `vocabulary:   ${summary.vocabSize} (tokenizer ${tokenizer.vocabSize}, eos ${tokenizer.eosTokenId ?? 'none'})`,
          'LoRA targets:',
          ...Object.entries(targets).map(
            ([s, t]) =>
              `  ${s.padEnd(9)} ${t.suffixes.join(',')} (${t.paths} modules; PEFT target_modules ${t.peft_target_modules.join(',')})`,
          ),
        ]
        process.stdout.write(`${lines.join('\n')}\n`)
      } finally {
        release()
      }
    })

  model
    .command('nll')
    .description('per-token negative log-likelihood (nats) of an answer given a prompt; prompt tokens are not scored')
    .option('--model <id|dir>', 'model folder, Hugging Face id or "embedded" (default: $PLORA_BASE_MODEL, else config)')
    .option('--adapter <dir>', 'PEFT adapter folder to apply (merged for the call, removed afterwards)')
    .requiredOption('--prompt <text>', 'the question')
    .requiredOption('--answer <text>', 'the answer to score')
    .option('--json', 'print JSON {tokens, token_nlls, mean_nll, perplexity}', false)
    .action(async (opts: ModelFlags & { prompt: string; answer: string; json: boolean }) => {
      const { m, model: lm, tokenizer, release } = await openModel(opts)
      try {
        const [r] = await m.tokenNlls(lm, tokenizer, [{ prompt: opts.prompt, answer: opts.answer }])
        const tokens = r!.answerIds.map((id) => tokenizer.decode([id], { skipSpecialTokens: false }))
        const out = {
          tokens,
          token_ids: r!.answerIds,
          token_nlls: r!.tokenNlls,
          mean_nll: r!.meanNll,
          perplexity: Math.exp(r!.meanNll),
        }
        if (opts.json) process.stdout.write(`${JSON.stringify(out)}\n`)
        else {
          for (let i = 0; i < tokens.length; i++)
            process.stdout.write(`${JSON.stringify(tokens[i])}\t${r!.tokenNlls[i]!.toFixed(4)}\n`)
          process.stdout.write(`mean NLL ${r!.meanNll.toFixed(4)} nats, perplexity ${out.perplexity.toFixed(2)}\n`)
        }
      } finally {
        release()
      }
    })

  const generate = program
    .command('generate')
    .description('greedy continuation of a prompt (stops at EOS)')
    .option('--model <id|dir>', 'model folder, Hugging Face id or "embedded" (default: $PLORA_BASE_MODEL, else config)')
    .option('--adapter <dir>', 'PEFT adapter folder to apply (merged for the call, removed afterwards)')
    .requiredOption('--prompt <text>', 'prompt text (used verbatim)')
    .option('--max-new-tokens <n>', 'new tokens at most', parseIntFlag({ min: 0 }))
    .option('--json', 'print JSON {text, token_ids, finish_reason}', false)
  setLibraryDefaults(generate, async () => {
    const { DEFAULT_GENERATE_OPTIONS: d } = await import('@plora/model')
    return { maxNewTokens: d.maxNewTokens }
  })
  generate.action(async (opts: ModelFlags & { prompt: string; maxNewTokens: number; json: boolean }) => {
    const n = opts.maxNewTokens
    const { m, model: lm, tokenizer, release } = await openModel(opts)
    try {
      const [r] = await m.generate(lm, tokenizer, [opts.prompt], { maxNewTokens: n })
      if (opts.json) {
        process.stdout.write(
          `${JSON.stringify({ text: r!.text, token_ids: r!.tokenIds, finish_reason: r!.finishReason })}\n`,
        )
      } else process.stdout.write(`${r!.text}\n`)
    } finally {
      release()
    }
  })

  const init = program
    .command('base-model')
    .description('the embedded default base model')
    .command('init')
    .description(
      'write an embedded base model (GPT-2, byte-level BPE learnt from its corpus, context 256) and pretrain it; ' +
        'the committed small model is rebuilt bit for bit by the command in assets/models/README.md',
    )
    .option(
      '--preset <name>',
      'small (the default model) | tiny (the fast test model)',
      parseEnum(['small', 'tiny'] as const),
    )
    .option('--out <dir>', 'output folder (default: the plora cache, where every command finds it)', parsePathFlag)
    .option('--seed <n>', 'weight-initialisation and pretraining seed', parseIntFlag({ min: 0 }))
    .option(
      '--steps <n>',
      'pretraining steps on the embedded general corpus; 0 keeps the random weights',
      parseIntFlag({ min: 0 }),
    )
    .option('--force', 'rebuild even when a matching model exists', false)
  setLibraryDefaults(init, async () => {
    const { DEFAULT_PRETRAIN_OPTIONS: d, PRESET_PRETRAIN_OPTIONS: p } = await import('@plora/trainer')
    return {
      preset: defaultNote('$PLORA_EMBEDDED_MODEL, else small'),
      seed: d.seed,
      steps: defaultNote(`$PLORA_PRETRAIN_STEPS, else the preset's: small ${p.small.steps}, tiny ${p.tiny.steps}`),
    }
  })
  init.action(
    async (opts: { out?: string; preset?: 'small' | 'tiny'; seed: number; steps?: number; force: boolean }) => {
      const { PloraError, createLogger } = await import('@plora/common')
      const seed = opts.seed
      const { readEnv } = await import('@plora/config')
      const env = readEnv()
      const steps = opts.steps ?? env.pretrainSteps
      const { existsSync } = await import('node:fs')
      if (opts.out !== undefined && existsSync(opts.out) && !opts.force) {
        // The cache folder is managed (rebuilt when its budget changes); a folder the user names is not.
        throw new PloraError('CLI_OUTPUT_EXISTS', `${opts.out} already exists: pass --force to replace it`, {
          path: opts.out,
        })
      }
      const m = await import('@plora/model')
      await m.initBackend(backendOptionsOf(env, createLogger({ level: env.logLevel })))
      const { ensurePretrainedBaseModel } = await import('@plora/trainer')
      const { createProgressReporter } = await import('../progress-bar.js')
      const dir = await ensurePretrainedBaseModel({
        cacheDir: env.cacheDir,
        preset: opts.preset ?? env.embeddedModel ?? 'small',
        seed,
        ...(steps !== undefined ? { steps } : {}),
        force: opts.force,
        onProgress: createProgressReporter(),
        ...(opts.out !== undefined ? { outDir: opts.out } : {}),
      })
      process.stdout.write(`${dir}\n`)
    },
  )
}
