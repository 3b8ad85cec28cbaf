import type { Command } from 'commander'
import {
  parseCsvFloats,
  parseCsvStrings,
  parseEnum,
  parseFloatFlag,
  parseIntFlag,
  parsePathFlag,
  setLibraryDefaults,
} from '../flags.js'

const positiveInt = parseIntFlag({ min: 1 })
const nonNegativeInt = parseIntFlag({ min: 0 })
const positiveNumber = parseFloatFlag({ min: 0, exclusive: 'min' })
const unitRate = parseFloatFlag({ min: 0, max: 1, exclusive: true })
/** Poison rates the population planner accepts ([0.05, 0.5]). */
const rates = parseCsvFloats({ min: 0.05, max: 0.5 })

/** Default folder of the gate study's outputs. */
export const GATE_STUDY_RESULTS = 'results'

/** The probe calibration `plora probes calibrate` writes (and `plora swarm v2 --security on` reads). */
export const DEFAULT_PROBES_CALIB = `${GATE_STUDY_RESULTS}/probes_calib.json`

/** Flags of the population both commands train or reuse. */
interface PopulationFlags {
  populationDir: string
  clean: number
  poisoned: number
  domains?: string[]
  samples: number
  epochs: number
  rank: number
  scheme: string
  lr: number
  batchSize: number
  poisonRates: number[]
  seed: number
  probesFile?: string
  probesMax?: number
  baseModel?: string
  targetFp?: number
  targetFn?: number
  bootstrap: number
}

function addPopulationFlags(cmd: Command): Command {
  cmd
    .option(
      '--population-dir <dir>',
      'folder of the clean and poisoned adapters (trained once, then reused)',
      parsePathFlag,
      `${GATE_STUDY_RESULTS}/gate_population`,
    )
    .option('--clean <n>', 'clean adapters in total (half calibrate, half evaluate)', positiveInt, 40)
    .option('--poisoned <n>', 'poisoned adapters in total (half calibrate, half evaluate)', positiveInt, 40)
    .option('--domains <csv>', 'training domains, cycled (default: config domains)', parseCsvStrings)
    .option('--samples <n>', 'training pairs per adapter', positiveInt)
    .option('--epochs <n>', 'epochs per adapter', positiveInt)
    .option('--rank <r>', 'LoRA rank', positiveInt)
    .option('--scheme <s>', 'LoRA targets: attention | mlp | all', parseEnum(['attention', 'mlp', 'all'] as const))
    .option('--lr <x>', 'learning rate', positiveNumber)
    .option('--batch-size <n>', 'batch size', positiveInt)
    .option(
      '--poison-rates <csv>',
      'poison rates in [0.05, 0.5], cycled over the poisoned adapters',
      rates,
      [0.1, 0.2, 0.3],
    )
    .option('--seed <n>', 'base seed of the population', nonNegativeInt, 7)
    .option('--probes-file <path>', 'probe set (default: the packaged assets/probes.json)', parsePathFlag)
    .option('--probes-max <n>', 'triggers and clean pairs probed (default: the whole probe set)', positiveInt)
    .option('--base-model <id>', 'base model (default: $PLORA_BASE_MODEL, else config base_model)', parsePathFlag)
    .option('--target-fp <x>', 'false-positive target (default: config probes.target_fp)', unitRate)
    .option('--target-fn <x>', 'false-negative target (default: config probes.target_fn)', unitRate)
    .option(
      '--bootstrap <n>',
      'bootstrap resamples of the AUC confidence intervals (rates get exact intervals)',
      positiveInt,
      2000,
    )
  cmd.options.find((o) => o.long === '--poison-rates')?.default([0.1, 0.2, 0.3], '0.1,0.2,0.3')
  return setLibraryDefaults(cmd, async () => {
    const { DEFAULT_POPULATION_TRAINING: d } = await import('@plora/experiments')
    return {
      samples: d.samples,
      epochs: d.epochs,
      rank: d.rank,
      scheme: d.scheme,
      lr: d.lr,
      batchSize: d.batchSize,
    }
  })
}

/** Loads the model, the probe set and the plan, and trains whatever the population lacks. */
async function studySetup(flags: PopulationFlags) {
  const { loadRuntime } = await import('../runtime.js')
  const { createProgressReporter } = await import('../progress-bar.js')
  const { resolveBaseModelDir } = await import('../base-model.js')
  const rt = await loadRuntime()
  const { spec, dir: modelDir } = await resolveBaseModelDir(flags.baseModel, {
    env: rt.env,
    logger: rt.logger,
    configBaseModel: rt.config.base_model,
  })
  const { createProbeHarness, baseFingerprint } = await import('@plora/loader')
  const { parseTargetScheme } = await import('@plora/peft')
  const { loadProbeSet } = await import('@plora/gate')
  const ex = await import('@plora/experiments')
  const { loadCausalLMFromDir, loadTokenizer } = await import('@plora/model')
  const probeSet = loadProbeSet(flags.probesFile)
  const probesMax = flags.probesMax ?? Math.max(probeSet.triggers.length, probeSet.clean.length)
  const plan = ex.planGatePopulation({
    clean: flags.clean,
    poisoned: flags.poisoned,
    domains: flags.domains ?? rt.config.domains,
    poisonRates: flags.poisonRates,
    knownTriggers: probeSet.triggers.slice(0, probesMax),
    unknownTriggers: ex.UNKNOWN_TRIGGERS.filter((t) => !probeSet.triggers.includes(t)),
    payload: probeSet.payloads[0]!,
    seed: flags.seed,
    training: {
      ...ex.DEFAULT_POPULATION_TRAINING,
      samples: flags.samples,
      epochs: flags.epochs,
      rank: flags.rank,
      scheme: parseTargetScheme(flags.scheme),
      lr: flags.lr,
      batchSize: flags.batchSize,
    },
  })
  const model = await loadCausalLMFromDir(modelDir)
  const tok = await loadTokenizer(modelDir)
  const trained = await ex.ensurePopulation(plan, {
    dir: flags.populationDir,
    modelDir,
    baseModel: spec,
    model,
    logger: rt.logger,
    onProgress: createProgressReporter(),
  })
  rt.logger.info(
    `population ${flags.populationDir}: ${trained.trained} trained, ${trained.reused} reused (${trained.seconds.toFixed(0)} s)`,
  )
  const harness = createProbeHarness(model, tok, { expectedFingerprint: await baseFingerprint(model) })
  const progress = createProgressReporter()
  let started = false
  const onMember = (done: number, total: number, id: string) => {
    if (!started) progress({ status: 'start', task: 'gate study', total })
    started = true
    progress({ status: 'progress', task: 'gate study', done, total, info: { adapter: id } })
    if (done === total) progress({ status: 'done', task: 'gate study' })
  }
  const targetFp = flags.targetFp ?? rt.config.probes.target_fp
  const targetFn = flags.targetFn ?? rt.config.probes.target_fn
  return {
    rt,
    spec,
    model,
    plan,
    probesMax,
    targetFp,
    targetFn,
    /** What calibrateGate and evaluateGate both take. */
    study: {
      plan,
      dir: flags.populationDir,
      baseModel: spec,
      harness,
      probeSet,
      probesMax,
      bootstrap: { nResamples: flags.bootstrap, seed: flags.seed },
      targetFp,
      targetFn,
      onMember,
    },
  }
}

/** `plora probes calibrate` (make probes-calib). */
export function registerProbes(program: Command): void {
  const probes = program.command('probes').description('behavioural probes of the security gate')
  addPopulationFlags(
    probes
      .command('calibrate')
      .description(
        'train or reuse clean and poisoned adapters, score every gate detector on the calibration half, choose thresholds for the FP/FN targets, write gate-ref.json and probes_calib.json',
      ),
  )
    .option('--out <path>', 'calibration report', parsePathFlag, DEFAULT_PROBES_CALIB)
    .option(
      '--reference-out <path>',
      'reference + thresholds the gate uses',
      parsePathFlag,
      `${GATE_STUDY_RESULTS}/gate-ref.json`,
    )
    .option(
      '--by-domain',
      'also fit one clean reference population per manifest domain (needs many clean adapters per domain)',
    )
    .action(async (flags: PopulationFlags & { out: string; referenceOut: string; byDomain?: boolean }) => {
      const s = await studySetup(flags)
      const { calibrateGate, DETECTORS } = await import('@plora/experiments')
      try {
        const { report } = await calibrateGate({
          ...s.study,
          referenceOut: flags.referenceOut,
          reportOut: flags.out,
          byDomain: flags.byDomain === true,
        })
        const rows = DETECTORS.map((d) => {
          const x = report.detectors[d.name]
          return `  ${d.name.padEnd(13)} threshold ${x.threshold.toFixed(3).padStart(8)}  AUC ${x.auc.value.toFixed(3)}  TPR ${x.tpr.toFixed(2)}  FPR ${x.fpr.toFixed(2)}`
        })
        const c = report.combined
        process.stdout.write(
          [
            `Calibrated on ${report.population.clean} clean and ${report.population.poisoned} poisoned adapters (calibration half):`,
            ...rows,
            `  combined: FPR ${c.fpr.toFixed(3)} (target ${s.targetFp}), TPR ${c.tpr.toFixed(3)} (known ${c.tpr_known.toFixed(3)}, unknown ${c.tpr_unknown.toFixed(3)}; FN target ${s.targetFn} ${c.meets_target_fn ? 'met' : 'NOT met'})`,
            `Wrote ${flags.referenceOut} and ${flags.out}`,
            '',
          ].join('\n'),
        )
      } finally {
        s.model.dispose()
      }
    })
}

/** `plora gate eval` (make gate-eval): the calibrated gate on the held-out half. */
export function registerGateEval(gate: Command): void {
  addPopulationFlags(
    gate
      .command('eval')
      .description(
        'run the calibrated gate (weights + probes) on the held-out half of the population; TPR/FPR/AUC with bootstrap intervals, for triggers in and not in the probe set',
      ),
  )
    .option(
      '--reference-file <path>',
      'calibrated reference (from probes calibrate)',
      parsePathFlag,
      `${GATE_STUDY_RESULTS}/gate-ref.json`,
    )
    .option('--out <path>', 'evaluation report (JSON)', parsePathFlag, `${GATE_STUDY_RESULTS}/gate_eval.json`)
    .option('--md <path>', 'evaluation report (Markdown)', parsePathFlag, `${GATE_STUDY_RESULTS}/gate_eval.md`)
    .option(
      '--svg <path>',
      'ROC curves of the detectors (SVG figure)',
      parsePathFlag,
      `${GATE_STUDY_RESULTS}/gate_roc.svg`,
    )
    .action(async (flags: PopulationFlags & { referenceFile: string; out: string; md: string; svg: string }) => {
      const { parsePolicy, readReference } = await import('@plora/gate')
      // Read the calibration first: a missing file should fail before any training.
      const reference = await readReference(flags.referenceFile)
      const s = await studySetup(flags)
      const { evaluateGate } = await import('@plora/experiments')
      try {
        const policy = parsePolicy({
          base_model: s.spec,
          allowed_ranks: [s.plan.training.rank],
          allowed_targets: null,
          signatures_enabled: false,
          enable_probes: true,
          probes_max: s.probesMax,
          probes_file: flags.probesFile ?? null,
          reference_file: flags.referenceFile,
        })
        const report = await evaluateGate({
          ...s.study,
          reference,
          policy,
          reportOut: flags.out,
          markdownOut: flags.md,
          svgOut: flags.svg,
        })
        const { evaluationMarkdown } = await import('@plora/experiments')
        process.stdout.write(`${evaluationMarkdown(report)}Wrote ${flags.out}, ${flags.md} and ${flags.svg}\n`)
      } finally {
        s.model.dispose()
      }
    })
}
