/**
 * The one set of commander argument parsers every `plora` command uses (issue 15 point 15). Each
 * parser checks the syntax and range of one flag value and throws commander's
 * `InvalidArgumentError`, so a bad value is a usage error: one line on stderr, exit status 2, no
 * stack. Whether a named file exists is not a usage question: the library that opens it throws a
 * `PloraError` (exit 1, STYLE.md §4).
 *
 * Library defaults shown in `--help` come from the library's exported `DEFAULT_*` constants through
 * {@link setLibraryDefaults}: the library is imported only when that command runs, so `plora --help`
 * stays fast.
 */
import { type Command, InvalidArgumentError, Option } from 'commander'

/** A commander argument parser: flag text → typed value. */
export type FlagParser<T> = (value: string, previous?: unknown) => T

const INT_RE = /^[+-]?\d+$/
const FLOAT_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/

function shown(value: string): string {
  return JSON.stringify(value)
}

function range(min: number | undefined, max: number | undefined, lo = '[', hi = ']'): string {
  if (min !== undefined && max !== undefined) return ` in ${lo}${min}, ${max}${hi}`
  if (min !== undefined) return lo === '(' ? ` > ${min}` : ` ≥ ${min}`
  if (max !== undefined) return hi === ')' ? ` < ${max}` : ` ≤ ${max}`
  return ''
}

/** Bounds of {@link parseIntFlag}. */
export interface IntFlagOptions {
  min?: number
  max?: number
}

function intOf(value: string, o: IntFlagOptions): number {
  const t = value.trim()
  const n = INT_RE.test(t) ? Number(t) : Number.NaN
  const ok = Number.isSafeInteger(n) && (o.min === undefined || n >= o.min) && (o.max === undefined || n <= o.max)
  if (!ok) throw new InvalidArgumentError(`expected a decimal integer${range(o.min, o.max)}, found ${shown(value)}`)
  return n
}

/** A decimal integer (no `0x`, exponent or fraction) within `[min, max]`. */
export function parseIntFlag(options: IntFlagOptions = {}): FlagParser<number> {
  return (value) => intOf(value, options)
}

/** A shard `i/n` of a grid (1 ≤ i ≤ n), e.g. `2/8`. */
export const parseShard: FlagParser<{ index: number; count: number }> = (value) => {
  const m = /^(\d+)\/(\d+)$/.exec(value)
  const index = m ? Number(m[1]) : Number.NaN
  const count = m ? Number(m[2]) : Number.NaN
  if (!m || !(count >= 1 && index >= 1 && index <= count) || !Number.isSafeInteger(count))
    throw new InvalidArgumentError(`expected i/n with 1 ≤ i ≤ n (e.g. 2/8), found ${shown(value)}`)
  return { index, count }
}

/** A TCP port, 0–65535 (0 = any free port where a server listens). */
export const parsePort: FlagParser<number> = parseIntFlag({ min: 0, max: 65535 })

/** Bounds of {@link parseFloatFlag}; `exclusive` makes `min`, `max` or both (`true`) strict. */
export interface FloatFlagOptions {
  min?: number
  max?: number
  exclusive?: boolean | 'min' | 'max'
}

function floatOf(value: string, o: FloatFlagOptions): number {
  const t = value.trim()
  const n = FLOAT_RE.test(t) ? Number(t) : Number.NaN
  const exMin = o.exclusive === true || o.exclusive === 'min'
  const exMax = o.exclusive === true || o.exclusive === 'max'
  const ok =
    Number.isFinite(n) &&
    (o.min === undefined || (exMin ? n > o.min : n >= o.min)) &&
    (o.max === undefined || (exMax ? n < o.max : n <= o.max))
  if (!ok) {
    throw new InvalidArgumentError(
      `expected a decimal number${range(o.min, o.max, exMin ? '(' : '[', exMax ? ')' : ']')}, found ${shown(value)}`,
    )
  }
  return n
}

/** A finite decimal number (e.g. `0.2`, `-0.05`, `3e-3`) within the bounds. */
export function parseFloatFlag(options: FloatFlagOptions = {}): FlagParser<number> {
  return (value) => floatOf(value, options)
}

/** A probability in [0, 1]. */
export const parseProbability: FlagParser<number> = parseFloatFlag({ min: 0, max: 1 })

function csvItems(value: string): string[] {
  const items = value.split(',').map((s) => s.trim())
  if (value.trim() === '' || items.some((s) => s === '')) {
    throw new InvalidArgumentError(`expected a comma-separated list with no empty items, found ${shown(value)}`)
  }
  return items
}

/** A comma-separated list of integers, each within the bounds (e.g. `4,8,16`). */
export function parseCsvInts(options: IntFlagOptions = {}): FlagParser<number[]> {
  return (value) => csvItems(value).map((s) => intOf(s, options))
}

/** A comma-separated list of numbers, each within the bounds (e.g. `0.0,0.3`). */
export function parseCsvFloats(options: FloatFlagOptions = {}): FlagParser<number[]> {
  return (value) => csvItems(value).map((s) => floatOf(s, options))
}

/** A comma-separated list of non-empty names (e.g. `arithmetic,legal`). */
export const parseCsvStrings: FlagParser<string[]> = (value) => csvItems(value)

/** A comma-separated list whose items are each one of `values`. */
export function parseCsvEnum<T extends string>(values: readonly T[]): FlagParser<T[]> {
  const one = parseEnum(values)
  return (value) => csvItems(value).map((s) => one(s))
}

/** One of `values`, exactly. */
export function parseEnum<T extends string>(values: readonly T[]): FlagParser<T> {
  return (value) => {
    if ((values as readonly string[]).includes(value)) return value as T
    throw new InvalidArgumentError(`expected ${values.map((v) => `"${v}"`).join(', ')}; found ${shown(value)}`)
  }
}

/** `on` → true, `off` → false. */
export const parseOnOff: FlagParser<boolean> = (value) => parseEnum(['on', 'off'] as const)(value) === 'on'

/**
 * A path: non-empty, no NUL or control characters. Whether it exists is checked by whoever opens it
 * (a `PloraError`, exit 1), not here.
 */
export const parsePathFlag: FlagParser<string> = (value) => {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (value === '' || /[\u0000-\u001f\u007f]/.test(value)) {
    throw new InvalidArgumentError(`expected a path (non-empty, no control characters), found ${shown(value)}`)
  }
  return value
}

/**
 * A usage-error text as one terminal-safe line: inner line breaks become spaces (commander puts
 * "(Did you mean …?)" on a line of its own) and other control characters, which a quoted flag value
 * may carry, are escaped as `\xNN`; one trailing newline stays.
 */
export function oneLine(text: string): string {
  const body = text.endsWith('\n') ? text.slice(0, -1) : text
  // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping control characters is the point
  const safe = body.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) =>
    c === '\n' ? ' ' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  )
  return `${safe}\n`
}

/** Collects a repeatable string flag into a list. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value]
}

/**
 * Adds a hidden alias (`--graph_p` for `--graph-p`, the original's spellings) that parses like the
 * visible option and stores into its key.
 */
export function addAlias(cmd: Command, alias: string, target: Option): void {
  const arg = target.flags.match(/<[^>]+>|\[[^\]]+\]/)?.[0] ?? ''
  const o = new Option(`--${alias}${arg ? ` ${arg}` : ''}`).hideHelp()
  const parse = (target as unknown as { parseArg?: FlagParser<unknown> }).parseArg
  if (target.argChoices) o.choices(target.argChoices)
  else if (parse) o.argParser(parse)
  cmd.addOption(o)
  cmd.on(`option:${alias}`, () =>
    cmd.setOptionValueWithSource(target.attributeName(), cmd.getOptionValue(o.attributeName()), 'cli'),
  )
}

/**
 * Library defaults of a command, keyed by option attribute name (`maxMsgMb`). An entry is the
 * value itself, `{ value, shown }` (the value, displayed as `shown`, e.g. `on` for true), or
 * `{ note }`, which sets no value and only appends `(default: note)` to the help text (a default
 * another layer resolves, e.g. "config gate.tau_trigger, else 0.2").
 */
export type LibraryDefaults = Record<string, unknown>

/** A default displayed differently from its value (`{ value: true, shown: 'on' }`). */
export function shownAs(value: unknown, shown: string): { value: unknown; shown: string } {
  return { value, shown }
}

/** A help-only default note (no value is set). */
export function defaultNote(note: string): { note: string } {
  return { note }
}

const lazyDefaults = new WeakMap<Command, Array<() => Promise<LibraryDefaults>>>()

/**
 * Declares that some of `cmd`'s defaults come from a library: `load` imports it (lazily) and returns
 * its exported `DEFAULT_*` values. They are applied just before the command parses its arguments
 * (`--help` included; see {@link resolveLibraryDefaults}), so a library loads only for the command
 * that runs. May be called more than once per command.
 */
export function setLibraryDefaults(cmd: Command, load: () => Promise<LibraryDefaults>): Command {
  lazyDefaults.set(cmd, [...(lazyDefaults.get(cmd) ?? []), load])
  return cmd
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/**
 * Applies `cmd`'s library defaults (once) to its options' help text and to the values of options
 * not given on the command line. Called before parsing when help is asked for, else after parsing
 * (so a bad flag value fails before any library loads).
 */
export async function resolveLibraryDefaults(cmd: Command): Promise<void> {
  const loaders = lazyDefaults.get(cmd)
  if (!loaders) return
  lazyDefaults.delete(cmd)
  for (const load of loaders) {
    for (const [key, entry] of Object.entries(await load())) {
      const option = cmd.options.find((o) => o.attributeName() === key && !o.hidden)
      if (!option) throw new Error(`setLibraryDefaults: "${cmd.name()}" has no option for "${key}"`)
      if (isRecord(entry) && typeof entry.note === 'string') {
        option.description = `${option.description} (default: ${entry.note})`
        continue
      }
      const { value, shown } =
        isRecord(entry) && typeof entry.shown === 'string' && 'value' in entry
          ? { value: entry.value, shown: entry.shown }
          : { value: entry, shown: Array.isArray(entry) ? entry.join(',') : undefined }
      option.default(value, shown)
      if (cmd.getOptionValueSource(key) === undefined) cmd.setOptionValueWithSource(key, value, 'default')
    }
  }
}

/** Whether a parent's remaining arguments ask for a subcommand's help (`x --help`, `help x`). */
export function asksForHelp(args: readonly string[]): boolean {
  return args[0] === 'help' || args.includes('--help') || args.includes('-h')
}

/**
 * `plora help <cmd> [<sub>]` prints help without parsing the command (no hook runs): resolve the
 * named command's library defaults first.
 */
export async function resolveHelpTarget(program: Command, argv: readonly string[]): Promise<void> {
  if (argv[0] !== 'help') return
  let cmd: Command | undefined = program
  for (const name of argv.slice(1)) {
    cmd = cmd.commands.find((c) => c.name() === name || c.aliases().includes(name))
    if (!cmd) return
    await resolveLibraryDefaults(cmd)
  }
}
