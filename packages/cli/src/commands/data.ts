import { join } from 'node:path'
import { type Command, Option } from 'commander'
import { collect, parseCsvStrings, parseIntFlag, parsePathFlag } from '../flags.js'

const positiveInt = parseIntFlag({ min: 1 })

interface CommonFlags {
  samples?: number
  hub?: boolean
  validate: boolean
}

/**
 * Everything a data command needs from the environment and the config: sources (embedded by
 * default; `data.sources` of the config when present; `--hub` for the original's hub datasets),
 * hash-split fractions from `train.train_split`, the hub cache/endpoint/token/offline flags.
 */
async function dataContext(flags: CommonFlags) {
  const { loadRuntime } = await import('../runtime.js')
  const ds = await import('@plora/datasets')
  const { getConfigValue } = await import('@plora/config')
  const { createProgressReporter } = await import('../progress-bar.js')
  const rt = await loadRuntime()
  let sources: Record<string, import('@plora/datasets').DatasetSource> = { ...ds.DEFAULT_DOMAIN_SOURCES }
  let configured: unknown
  try {
    configured = getConfigValue(rt.config, 'data.sources')
  } catch {
    configured = undefined // the config has no data block: embedded defaults
  }
  if (configured !== undefined)
    sources = { ...sources, ...ds.parseDomainSources(configured, `${rt.configPath}: data.sources`) }
  if (flags.hub) sources = { ...sources, ...ds.HF_DOMAIN_SOURCES }
  // train.train_split is the training share; validation and test share the rest equally
  const trainShare = rt.config.train.train_split
  const fractions = { train: trainShare, validation: (1 - trainShare) / 2, test: (1 - trainShare) / 2 }
  const samples = flags.samples ?? rt.env.samples
  const options = {
    sources,
    fractions,
    validate: flags.validate,
    logger: rt.logger,
    ...(samples !== undefined ? { samples } : {}),
    hub: {
      hubCache: rt.env.hfHubCache,
      endpoint: rt.env.hfEndpoint,
      offline: rt.env.hfHubOffline,
      retries: rt.env.datasetRetries,
      backoffMs: rt.env.datasetRetryBackoffS * 1000,
      onProgress: createProgressReporter(),
      ...(rt.env.hfToken ? { token: rt.env.hfToken } : {}),
    },
  }
  return { ds, rt, options }
}

function indent(text: string): string {
  return text.replace(/\n/g, '\n    ')
}

/** `plora data prepare` and `plora data show` (spec pipelines.md §15; issue 5 items 1–3). */
export function register(program: Command): void {
  const data = program.command('data').description('domain datasets: pre-fetch, validate and inspect them')
  const hubOption = () =>
    new Option(
      '--hub',
      "use the original's Hugging Face datasets for arithmetic, legal and medical (aqua_rat, lex_glue case_hold, medmcqa)",
    )
  const samplesOption = () =>
    new Option('--samples <n>', 'keep at most n pairs per split (default: PLORA_SAMPLES, else all)').argParser(
      positiveInt,
    )

  data
    .command('prepare')
    .description(
      'fetch (hub datasets, into the HF cache) and validate every split of every domain, so later runs work offline',
    )
    .option('--domains <list>', "comma-separated domains (default: the config's domains)", parseCsvStrings)
    .addOption(
      new Option('--splits <list>', 'comma-separated splits')
        .argParser(parseCsvStrings)
        .default(['train', 'validation'], 'train,validation'),
    )
    .addOption(samplesOption())
    .option(
      '--source <domain=spec>',
      "override one domain's source, e.g. legal=hf:lex_glue:case_hold or medical=file:data/med.jsonl (repeatable)",
      collect,
    )
    .addOption(hubOption())
    .option('--export <dir>', 'also write <dir>/<domain>/<split>.jsonl', parsePathFlag)
    .option('--no-validate', 'skip the data-quality validation')
    .action(
      async (opts: CommonFlags & { domains?: string[]; splits: string[]; source?: string[]; export?: string }) => {
        const { ds, rt, options } = await dataContext(opts)
        for (const entry of opts.source ?? []) {
          const eq = entry.indexOf('=')
          if (eq < 1) {
            throw new ds.DatasetsError(
              ds.DatasetsErrorCode.SourceInvalid,
              `--source expects <domain>=<spec> (e.g. legal=embedded:legal), found "${entry}"`,
              { entry },
            )
          }
          options.sources[entry.slice(0, eq)] = ds.parseSourceSpec(entry.slice(eq + 1))
        }
        const splits = opts.splits.map((s) => {
          if (!ds.isSplitName(s))
            throw new ds.DatasetsError(
              ds.DatasetsErrorCode.SplitInvalid,
              `invalid split "${s}": expected train, validation or test`,
              { split: s },
            )
          return s
        })
        const domains = opts.domains ?? rt.config.domains
        const { writeFileAtomic } = await import('@plora/common')
        for (const d of await ds.prepareDatasets(domains, splits, options)) {
          const origin = d.fromCache === undefined ? '' : d.fromCache ? ', from the cache' : ', downloaded'
          process.stdout.write(
            `${d.split}/${d.domain}: ${d.pairs.length} pairs (of ${d.available}) from ${ds.describeSource(d.source)}${origin}\n`,
          )
          if (opts.export) {
            const path = join(opts.export, d.domain, `${d.split}.jsonl`)
            await writeFileAtomic(path, d.pairs.map((p) => `${JSON.stringify(p)}\n`).join(''))
            process.stdout.write(`  wrote ${path}\n`)
          }
        }
      },
    )

  data
    .command('show')
    .description('print examples of one domain and split')
    .requiredOption('--domain <name>', 'domain, e.g. legal')
    .option('--split <name>', 'train | validation | test (default: PLORA_SPLIT, else train)')
    .addOption(new Option('-n, --count <n>', 'examples to print').argParser(positiveInt).default(5))
    .addOption(samplesOption())
    .option(
      '--source <spec>',
      'read the domain from this source: embedded:<name>, hf:<org/name>[:<config>][@<rev>], file:<path>[?question=q&answer=a]',
    )
    .addOption(hubOption())
    .option('--json', 'print the pairs as JSON lines', false)
    .option('--no-validate', 'skip the data-quality validation')
    .action(
      async (opts: CommonFlags & { domain: string; split?: string; count: number; source?: string; json: boolean }) => {
        const { ds, rt, options } = await dataContext(opts)
        if (opts.source) options.sources[opts.domain] = ds.parseSourceSpec(opts.source)
        const split = opts.split ?? rt.env.split ?? 'train'
        if (!ds.isSplitName(split))
          throw new ds.DatasetsError(
            ds.DatasetsErrorCode.SplitInvalid,
            `invalid split "${split}": expected train, validation or test`,
            { split },
          )
        const d = await ds.loadDomainDataset(opts.domain, { ...options, split })
        const shown = d.pairs.slice(0, opts.count)
        if (opts.json) {
          for (const p of shown) process.stdout.write(`${JSON.stringify(p)}\n`)
          return
        }
        process.stdout.write(
          `${d.domain}/${d.split} from ${ds.describeSource(d.source)}: showing ${shown.length} of ${d.pairs.length} pairs (${d.available} in the split)\n`,
        )
        shown.forEach((p, i) => {
          process.stdout.write(`\n[${i + 1}] Q: ${indent(p.question)}\n    A: ${indent(p.answer)}\n`)
        })
      },
    )
}
