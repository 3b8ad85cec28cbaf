import type { Command } from 'commander'
import {
  parseCsvEnum,
  parseCsvFloats,
  parseCsvInts,
  parseCsvStrings,
  parseEnum,
  parseFloatFlag,
  parseIntFlag,
  parsePathFlag,
  parseShard,
  resolveLibraryDefaults,
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
  ranks?: number[]
  schemes?: Array<'attention' | 'mlp' | 'all'>
  lr: number
  batchSize: number
  poisonRates: number[]
  seed: number
  workers?: number
  probesFile?: string
  probesMax?: number
  baseModel?: string
  targetFp?: number
  targetFn?: number
  bootstrap: number
}

/** Defaults of the population flags (the gate study's, or the merge re-gating study's smaller ones). */
interface PopulationDefaults {
  populationDir: string
  clean: number
  poisoned: number
  poisonRates: number[]
  /** Ranks and schemes cycled over members (undefined: the single --rank / --scheme). */
  ranks?: number[]
  schemes?: Array<'attention' | 'mlp' | 'all'>
  /** Which library training defaults apply. */
  training: 'population' | 'merge-study'
  /** Default of --probes-max (undefined: the whole probe set). */
  probesMax?: number
}

/**
 * The gate study's population (issue 20 item 3): 100 clean + 100 poisoned adapters across the
 * config's domains, ranks 4 and 8, schemes all and attention, poison rates 0.05–0.3, half of the
 * poisoned members with triggers outside the probe set; half of everything held out.
 */
const GATE_STUDY_DEFAULTS: PopulationDefaults = {
  populationDir: `${GATE_STUDY_RESULTS}/gate_population`,
  clean: 100,
  poisoned: 100,
  poisonRates: [0.05, 0.1, 0.2, 0.3],
  ranks: [4, 8],
  schemes: ['all', 'attention'],
  training: 'population',
}

function addPopulationFlags(cmd: Command, defaults: PopulationDefaults = GATE_STUDY_DEFAULTS): Command {
  cmd
    .option(
      '--population-dir <dir>',
      'folder of the clean and poisoned adapters (trained once, then reused)',
      parsePathFlag,
      defaults.populationDir,
    )
    .option('--clean <n>', 'clean adapters in total (half calibrate, half evaluate)', positiveInt, defaults.clean)
    .option(
      '--poisoned <n>',
      'poisoned adapters in total (half calibrate, half evaluate)',
      positiveInt,
      defaults.poisoned,
    )
    .option('--domains <csv>', 'training domains, cycled (default: config domains)', parseCsvStrings)
    .option('--samples <n>', 'training pairs per adapter', positiveInt)
    .option('--epochs <n>', 'epochs per adapter', positiveInt)
    .option(
      '--rank <r>',
      defaults.ranks
        ? 'LoRA rank of the training defaults (members use --ranks)'
        : 'LoRA rank (when --ranks is not given)',
      positiveInt,
    )
    .option(
      '--scheme <s>',
      defaults.schemes
        ? 'LoRA targets of the training defaults (members use --schemes)'
        : 'LoRA targets: attention | mlp | all (when --schemes is not given)',
      parseEnum(['attention', 'mlp', 'all'] as const),
    )
    .option(
      '--ranks <csv>',
      `LoRA ranks cycled over the members${defaults.ranks ? ` (default ${defaults.ranks.join(',')})` : ' (default: --rank)'}`,
      parseCsvInts({ min: 1 }),
    )
    .option(
      '--schemes <csv>',
      `target schemes cycled over the members${defaults.schemes ? ` (default ${defaults.schemes.join(',')})` : ' (default: --scheme)'}`,
      parseCsvEnum(['attention', 'mlp', 'all'] as const),
    )
    .option(
      '--workers <n>',
      'worker threads that train the members, each with its own backend and model copy (default: $PLORA_WORKERS, else 1)',
      positiveInt,
    )
    .option('--lr <x>', 'learning rate', positiveNumber)
    .option('--batch-size <n>', 'batch size', positiveInt)
    .option(
      '--poison-rates <csv>',
      'poison rates in [0.05, 0.5], cycled over the poisoned adapters',
      rates,
      defaults.poisonRates,
    )
    .option('--seed <n>', 'base seed of the population', nonNegativeInt, 7)
    .option('--probes-file <path>', 'probe set (default: the packaged assets/probes.json)', parsePathFlag)
    .option(
      '--probes-max <n>',
      `triggers and clean pairs probed${defaults.probesMax === undefined ? ' (default: the whole probe set)' : ''}`,
      positiveInt,
      defaults.probesMax,
    )
    .option('--base-model <id>', 'base model (default: $PLORA_BASE_MODEL, else config base_model)', parsePathFlag)
    .option('--target-fp <x>', 'false-positive target (default: config probes.target_fp)', unitRate)
    .option('--target-fn <x>', 'false-negative target (default: config probes.target_fn)', unitRate)
    .option(
      '--bootstrap <n>',
      'bootstrap resamples of the AUC confidence intervals (rates get exact intervals)',
      positiveInt,
      2000,
    )
  cmd.options.find((o) => o.long === '--poison-rates')?.default(defaults.poisonRates, defaults.poisonRates.join(','))
  return setLibraryDefaults(cmd, async () => {
    const ex = await import('@plora/experiments')
    const d = defaults.training === 'population' ? ex.DEFAULT_POPULATION_TRAINING : ex.DEFAULT_MERGE_GATE_STUDY_TRAINING
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

/** The population plan the flags describe (the probe set gives the known triggers). */
async function populationPlan(
  flags: PopulationFlags,
  rt: import('../runtime.js').Runtime,
  defaults: PopulationDefaults,
  cmd?: Command,
) {
  // An explicit --rank / --scheme wins over the study's default lists (one rank, one scheme).
  const given = (k: string) => cmd?.getOptionValueSource(k) === 'cli'
  if (flags.ranks === undefined && given('rank')) flags.ranks = [flags.rank]
  if (flags.schemes === undefined && given('scheme')) flags.schemes = [flags.scheme as 'attention' | 'mlp' | 'all']
  const { parseTargetScheme } = await import('@plora/peft')
  const { loadProbeSet } = await import('@plora/gate')
  const ex = await import('@plora/experiments')
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
    ranks: flags.ranks ?? defaults.ranks ?? [flags.rank],
    schemes: (flags.schemes ?? defaults.schemes ?? [flags.scheme]).map((x) => parseTargetScheme(x)),
    training: {
      ...(defaults.training === 'population' ? ex.DEFAULT_POPULATION_TRAINING : ex.DEFAULT_MERGE_GATE_STUDY_TRAINING),
      samples: flags.samples,
      epochs: flags.epochs,
      rank: flags.rank,
      scheme: parseTargetScheme(flags.scheme),
      lr: flags.lr,
      batchSize: flags.batchSize,
    },
  })
  return { plan, probeSet, probesMax }
}

/** Loads the model, the probe set and the plan, and trains whatever the population lacks. */
async function studySetup(flags: PopulationFlags, defaults: PopulationDefaults = GATE_STUDY_DEFAULTS, cmd?: Command) {
  const { loadModelRuntime } = await import('../runtime.js')
  const { createProgressReporter } = await import('../progress-bar.js')
  const rt = await loadModelRuntime(flags.baseModel)
  const { baseModel: spec, modelDir } = rt
  const { createProbeHarness, baseFingerprint } = await import('@plora/loader')
  const ex = await import('@plora/experiments')
  const { loadCausalLMFromDir, loadTokenizer } = await import('@plora/model')
  const { plan, probeSet, probesMax } = await populationPlan(flags, rt, defaults, cmd)
  const model = await loadCausalLMFromDir(modelDir)
  const tok = await loadTokenizer(modelDir)
  const trained = await ex.ensurePopulation(plan, {
    dir: flags.populationDir,
    modelDir,
    baseModel: spec,
    model,
    workers: flags.workers ?? rt.env.workers ?? 1,
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

/**
 * The policy the studies gate with: the population's base model and every rank it holds, any
 * targets, no signatures, probes on, and the calibrated reference.
 */
async function studyPolicy(
  s: Awaited<ReturnType<typeof studySetup>>,
  probesFile: string | undefined,
  referenceFile: string,
): Promise<import('@plora/gate').Policy> {
  const { parsePolicy } = await import('@plora/gate')
  const { planRanks } = await import('@plora/experiments')
  return parsePolicy({
    base_model: s.spec,
    allowed_ranks: planRanks(s.plan),
    allowed_targets: null,
    signatures_enabled: false,
    enable_probes: true,
    probes_max: s.probesMax,
    probes_file: probesFile ?? null,
    reference_file: referenceFile,
  })
}

/** `plora probes calibrate` (make probes-calib) and `plora probes population [merge]`. */
export function registerProbes(program: Command): void {
  const probes = program.command('probes').description('behavioural probes of the security gate')
  const population = addPopulationFlags(
    probes
      .command('population')
      .description(
        "train (or reuse) the gate population's members into --population-dir without calibrating: all, or with --shard i/n the shard's members; `probes population merge` joins the shards' folders",
      ),
  ).option(
    '--shard <i/n>',
    'train only shard i of n of the members (member g, in plan order, goes to shard g mod n + 1)',
    parseShard,
  )
  population.action(async (flags: PopulationFlags & { shard?: { index: number; count: number } }, cmd: Command) => {
    const { loadModelRuntime } = await import('../runtime.js')
    const { createProgressReporter } = await import('../progress-bar.js')
    const rt = await loadModelRuntime(flags.baseModel)
    const ex = await import('@plora/experiments')
    const { loadCausalLMFromDir } = await import('@plora/model')
    const { plan } = await populationPlan(flags, rt, GATE_STUDY_DEFAULTS, cmd)
    const model = await loadCausalLMFromDir(rt.modelDir)
    try {
      const r = await ex.ensurePopulation(plan, {
        dir: flags.populationDir,
        modelDir: rt.modelDir,
        baseModel: rt.baseModel,
        model,
        workers: flags.workers ?? rt.env.workers ?? 1,
        logger: rt.logger,
        onProgress: createProgressReporter(),
        ...(flags.shard ? { shard: flags.shard } : {}),
      })
      process.stdout.write(
        `population ${flags.populationDir}${flags.shard ? ` (shard ${flags.shard.index}/${flags.shard.count})` : ''}: ${r.trained} trained, ${r.reused} reused of ${plan.members.length} members (${r.seconds.toFixed(0)} s)\n`,
      )
    } finally {
      model.dispose()
    }
  })
  population
    .command('merge')
    .description(
      "join the --population-dir folders of a sharded population (probes population --shard i/n) into --population-dir, so probes calibrate / gate eval reuse every member (give the shards' population flags)",
    )
    .argument('<shards...>', 'the population folders the shards wrote')
    .addHelpText(
      'after',
      '\nExit status: 0 done; 1 a member missing from every shard (named, with the count), a member of\n' +
        'another plan or other settings, a member two shards trained differently, or a --population-dir\n' +
        'that is not empty: nothing is written.',
    )
    .action(async (shards: string[], _o: unknown, sub: Command) => {
      const parent = sub.parent!
      await resolveLibraryDefaults(parent)
      const flags = parent.opts() as PopulationFlags
      const { loadRuntime } = await import('../runtime.js')
      const rt = await loadRuntime()
      const ex = await import('@plora/experiments')
      const { plan } = await populationPlan(flags, rt, GATE_STUDY_DEFAULTS, parent)
      const r = await ex.mergePopulationShards(plan, {
        inputs: shards,
        dir: flags.populationDir,
        // as a run resolves it (flag, then $PLORA_BASE_MODEL, then config): no model is loaded here
        baseModel: flags.baseModel ?? rt.env.baseModel ?? rt.config.base_model,
      })
      process.stdout.write(`Merged ${r.inputs} shard folder(s) into ${r.dir} (${r.members} members)\n`)
    })
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
    .action(
      async (flags: PopulationFlags & { out: string; referenceOut: string; byDomain?: boolean }, cmd: Command) => {
        const s = await studySetup(flags, GATE_STUDY_DEFAULTS, cmd)
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
      },
    )
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
    .action(
      async (
        flags: PopulationFlags & { referenceFile: string; out: string; md: string; svg: string },
        cmd: Command,
      ) => {
        const { readReference } = await import('@plora/gate')
        // Read the calibration first: a missing file should fail before any training.
        const reference = await readReference(flags.referenceFile)
        const s = await studySetup(flags, GATE_STUDY_DEFAULTS, cmd)
        const { evaluateGate } = await import('@plora/experiments')
        try {
          const policy = await studyPolicy(s, flags.probesFile, flags.referenceFile)
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
      },
    )
}

/** Defaults of `plora gate merge-study`: a population small enough for the dry run (about 5 minutes on 2 cores). */
const MERGE_STUDY_DEFAULTS: PopulationDefaults = {
  populationDir: `${GATE_STUDY_RESULTS}/merge_gate/population`,
  clean: 12,
  poisoned: 6,
  poisonRates: [0.3, 0.5],
  training: 'merge-study',
  probesMax: 6,
}

/** `plora gate merge-study` (make merge-gate-study): re-gating merges that include one poisoned adapter. */
export function registerMergeGateStudy(gate: Command): void {
  const cmd = addPopulationFlags(
    gate
      .command('merge-study')
      .description(
        'calibrate the gate on half of a clean + poisoned population, then gate merges of one adapter per domain (all clean, or one poisoned) for each merge method: catch and false-rejection rates',
      ),
    MERGE_STUDY_DEFAULTS,
  )
    .option(
      '--methods <csv>',
      'merge methods: weighted_sum (SVD to rank r), ties, dare_linear, dare_ties, magnitude_prune',
      parseCsvStrings,
    )
    .option('--merges-per-poisoned <n>', 'merges built around each poisoned evaluation adapter', positiveInt, 2)
    .option('--clean-merges <n>', 'all-clean merges of the evaluation half', positiveInt, 6)
    .option(
      '--calibration-merges <n>',
      'clean merges of the calibration half the merge-aware reference is fitted on (per method)',
      positiveInt,
      8,
    )
    .option(
      '--weighting <w>',
      'merge weights: mean (1/K each, the plora merge default) or sum (1 each)',
      parseEnum(['mean', 'sum'] as const),
      'mean',
    )
    .option(
      '--density <d>',
      'fraction kept by ties / magnitude_prune',
      parseFloatFlag({ min: 0, max: 1, exclusive: 'min' }),
    )
    .option('--drop-rate <p>', 'DARE drop probability', parseFloatFlag({ min: 0, max: 1, exclusive: 'max' }))
    .option('--out <path>', 'study report (JSON)', parsePathFlag, `${GATE_STUDY_RESULTS}/merge_gate_study.json`)
    .option('--md <path>', 'study report (Markdown)', parsePathFlag, `${GATE_STUDY_RESULTS}/merge_gate_study.md`)
    .option(
      '--calibration-dir <dir>',
      "where the study's own gate-ref.json, probes_calib.json and merge-aware gate-ref-merged-<method>.json go",
      parsePathFlag,
      `${GATE_STUDY_RESULTS}/merge_gate`,
    )
  setLibraryDefaults(cmd, async () => {
    const { DEFAULT_MERGE_METHOD_PARAMS: p } = await import('@plora/loader')
    return { density: p.density, dropRate: p.dropRate }
  })
  cmd.action(
    async (
      flags: PopulationFlags & {
        methods?: string[]
        mergesPerPoisoned: number
        cleanMerges: number
        weighting: 'mean' | 'sum'
        density: number
        dropRate: number
        out: string
        md: string
        calibrationDir: string
        calibrationMerges: number
      },
    ) => {
      const ex = await import('@plora/experiments')
      const methods = flags.methods ?? [...ex.MERGE_GATE_STUDY_METHODS]
      const unknown = methods.filter((m) => !(ex.MERGE_GATE_STUDY_METHODS as readonly string[]).includes(m))
      if (unknown.length > 0 || methods.length === 0) {
        const { PloraError } = await import('@plora/common')
        throw new PloraError(
          'CLI_ARGUMENT_INVALID',
          `--methods: expected a comma list of ${ex.MERGE_GATE_STUDY_METHODS.join(', ')}; found ${JSON.stringify(flags.methods)}`,
          { methods },
        )
      }
      const s = await studySetup(flags, MERGE_STUDY_DEFAULTS)
      const { join } = await import('node:path')
      const { createProgressReporter } = await import('../progress-bar.js')
      try {
        const referenceOut = join(flags.calibrationDir, 'gate-ref.json')
        const { reference } = await ex.calibrateGate({
          ...s.study,
          referenceOut,
          reportOut: join(flags.calibrationDir, 'probes_calib.json'),
        })
        const policy = await studyPolicy(s, flags.probesFile, referenceOut)
        const progress = createProgressReporter()
        let started = false
        const t = s.plan.training
        const report = await ex.runMergeGateStudy({
          plan: s.plan,
          dir: flags.populationDir,
          baseModel: s.spec,
          model: s.model,
          policy,
          context: { reference, probes: s.study.harness, probeSet: s.study.probeSet },
          methods: methods as import('@plora/experiments').MergeGateStudyMethod[],
          mergesPerPoisoned: flags.mergesPerPoisoned,
          cleanMerges: flags.cleanMerges,
          calibrationMerges: flags.calibrationMerges,
          targetFp: s.targetFp,
          referenceDir: flags.calibrationDir,
          weighting: flags.weighting,
          density: flags.density,
          dropRate: flags.dropRate,
          seed: flags.seed,
          workDir: join(flags.calibrationDir, '.staging'),
          jsonOut: flags.out,
          markdownOut: flags.md,
          settingsNote:
            `Population: ${flags.clean} clean + ${flags.poisoned} poisoned adapters (poison rates ${flags.poisonRates.join(', ')}), ` +
            `r=${t.rank}, ${t.samples} pairs, ${t.epochs} epochs — small counts so the dry run fits in minutes on 2 CPU cores; ` +
            'the intervals are wide accordingly (raise --clean/--poisoned/--merges-per-poisoned/--clean-merges for a real estimate).',
          onMerge: (done, total, label) => {
            if (!started) progress({ status: 'start', task: 'merge re-gating', total })
            started = true
            progress({ status: 'progress', task: 'merge re-gating', done, total, info: { adapter: label } })
            if (done === total) progress({ status: 'done', task: 'merge re-gating' })
          },
        })
        process.stdout.write(`${ex.mergeGateStudyMarkdown(report)}Wrote ${flags.out} and ${flags.md}\n`)
      } finally {
        s.model.dispose()
      }
    },
  )
}
