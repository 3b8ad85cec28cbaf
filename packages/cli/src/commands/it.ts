import { type Command, Option } from 'commander'
import { backendOptionsOf } from '../base-model.js'
import { parseFloatFlag, parseIntFlag, parsePathFlag, setLibraryDefaults } from '../flags.js'
import { createProgressReporter } from '../progress-bar.js'

const positiveInt = parseIntFlag({ min: 1 })
const seedInt = parseIntFlag({ min: 0 })

interface NetItFlags {
  history: string
  out: string
  boot: number
  perm: number
  alpha: number
  seed: number
  miEstimator: 'auto' | 'discrete' | 'ksg1' | 'ksg2' | 'mixed'
  miNull: 'block' | 'permute'
  teNull: 'auto' | 'shift' | 'permute'
  blockLength?: number
}

interface MineCalibFlags {
  rho: number
  n: number
  dims: number
  epochs: number
  batchSize: number
  lr: number
  variant: 'mine' | 'dv' | 'f'
  seed: number
  out: string
}

/** `plora net-it` and `plora mine-calib` (swarm.md §12.3, §12.8). */
export function register(program: Command): void {
  const netIt = program
    .command('net-it')
    .description(
      'agent–agent MI and pairwise transfer entropy of a swarm history, with CIs, permutation p-values and BH-FDR',
    )
    .requiredOption('--history <path>', 'swarm history JSON (history_seed{seed}.json)', parsePathFlag)
    .option('--out <path>', 'output JSON', parsePathFlag, 'results/net_it_metrics.json')
    .option('--boot <n>', 'bootstrap resamples per pair', positiveInt)
    .option('--perm <n>', 'minimum permutations per test (raised to ⌈tests/alpha⌉)', positiveInt)
    .option('--alpha <a>', 'FDR level', parseFloatFlag({ min: 0, max: 1, exclusive: true }))
    .option('--seed <n>', 'seed of every random draw', seedInt)
    .addOption(
      new Option('--mi-estimator <name>', 'MI estimator (auto: discrete + Miller–Madow for counts)').choices([
        'auto',
        'discrete',
        'ksg1',
        'ksg2',
        'mixed',
      ]),
    )
    .addOption(
      new Option(
        '--mi-null <name>',
        'MI permutation null: block (keeps short-range autocorrelation) or permute',
      ).choices(['block', 'permute']),
    )
    .addOption(
      new Option('--te-null <name>', 'TE surrogate null (auto: shift when enough distinct shifts)').choices([
        'auto',
        'shift',
        'permute',
      ]),
    )
    .option('--block-length <n>', 'block length of the bootstrap and the MI null (default ⌈T^(1/3)⌉)', positiveInt)
  setLibraryDefaults(netIt, async () => {
    const { DEFAULT_NET_IT_OPTIONS: d } = await import('@plora/it-estimators')
    return {
      boot: d.nBoot,
      perm: d.nPerm,
      alpha: d.alpha,
      seed: d.seed,
      miEstimator: d.miEstimator,
      miNull: d.miNull,
      teNull: d.teNull,
    }
  })
  netIt.action(async (flags: NetItFlags) => {
    const { computeNetIt, readSwarmHistory } = await import('@plora/it-estimators')
    const { benjaminiHochberg } = await import('@plora/metrics')
    const { writeJsonAtomic } = await import('@plora/common')
    const history = await readSwarmHistory(flags.history)
    const result = computeNetIt(
      history,
      {
        nBoot: flags.boot,
        nPerm: flags.perm,
        alpha: flags.alpha,
        seed: flags.seed,
        miEstimator: flags.miEstimator,
        miNull: flags.miNull,
        teNull: flags.teNull,
        ...(flags.blockLength !== undefined ? { blockLength: flags.blockLength } : {}),
      },
      { fdr: (p, alpha) => benjaminiHochberg(p, alpha), onProgress: createProgressReporter() },
    )
    await writeJsonAtomic(flags.out, result)
    const miHits = result.mi_bh.rejected.filter(Boolean).length
    const teHits = result.te_bh.rejected.filter(Boolean).length
    process.stdout.write(
      `net-it: ${result.settings.N} agents, ${result.settings.T} snapshots; MI discoveries ${miHits}/${result.mi_pvals.length}, ` +
        `TE discoveries ${teHits}/${result.te_pvals.length} (BH α=${flags.alpha}) saved to ${flags.out}\n`,
    )
  })

  const mine = program
    .command('mine-calib')
    .description('MINE on correlated Gaussians of known mutual information (calibration)')
    .option('--rho <r>', 'correlation per dimension, in (-1, 1)', parseFloatFlag({ min: -1, max: 1, exclusive: true }))
    .option('--n <n>', 'samples', positiveInt)
    .option('--dims <d>', 'dimensions of X and Y', positiveInt)
    .option('--epochs <n>', 'training epochs', positiveInt)
    .option('--batch-size <n>', 'mini-batch size', positiveInt)
    .option('--lr <lr>', 'Adam learning rate', parseFloatFlag({ min: 0, exclusive: 'min' }))
    .addOption(
      new Option('--variant <name>', 'objective: mine (EMA-corrected gradient), dv or f').choices(['mine', 'dv', 'f']),
    )
    .option('--seed <n>', 'seed of data, initialisation and batches', seedInt)
    .option('--out <path>', 'output JSON', parsePathFlag, 'results/mine_calib.json')
  setLibraryDefaults(mine, async () => {
    // The calibration's own defaults; `@plora/it-estimators/mine` loads TensorFlow.js, so only for this command.
    const { DEFAULT_MINE_CALIBRATION_OPTIONS: d } = await import('@plora/it-estimators/mine')
    return {
      rho: d.rho,
      n: d.n,
      dims: d.dims,
      epochs: d.epochs,
      batchSize: d.batchSize,
      lr: d.lr,
      variant: d.variant,
      seed: d.seed,
    }
  })
  mine.action(async (flags: MineCalibFlags) => {
    const { readEnv } = await import('@plora/config')
    const { createLogger } = await import('@plora/common')
    const env = readEnv()
    const { initBackend } = await import('@plora/model')
    await initBackend(backendOptionsOf(env, createLogger({ level: env.logLevel, name: 'plora' })))
    const { runMineCalibration } = await import('@plora/it-estimators/mine')
    const r = await runMineCalibration({
      rho: flags.rho,
      n: flags.n,
      dims: flags.dims,
      epochs: flags.epochs,
      batchSize: flags.batchSize,
      lr: flags.lr,
      variant: flags.variant,
      seed: flags.seed,
      out: flags.out,
      onProgress: createProgressReporter(),
    })
    process.stdout.write(
      `MINE estimate: ${r.mi.toFixed(3)} nats (truth ${r.mi_true.toFixed(3)}, |error| ${r.abs_error.toFixed(3)}, backend ${r.backend}) saved to ${flags.out}\n`,
    )
  })
}
