/**
 * A small leveled logger. Libraries receive a {@link Logger} through their components; the CLI
 * creates the real one from `PLORA_LOG_LEVEL`. Lines go to stderr so stdout stays machine-readable.
 */

/** Log levels from most to least verbose. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

/** The logging interface libraries depend on. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void
  info(message: string, fields?: Record<string, unknown>): void
  warn(message: string, fields?: Record<string, unknown>): void
  error(message: string, fields?: Record<string, unknown>): void
  /** A logger whose lines carry `name` (e.g. `plora:grpc`). */
  child(name: string): Logger
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  level: LogLevel
  name: string
  /** Where lines go (default: process.stderr). */
  write: (line: string) => void
  /** Clock for timestamps (default: Date.now); injectable for tests. */
  now: () => number
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n)
}

/** A logger printing `HH:MM:SS | LEVEL    | name | message key=value…`, like the original's format. */
export function createLogger(options: Partial<LoggerOptions> = {}): Logger {
  const o: LoggerOptions = {
    level: 'info',
    name: 'plora',
    write: (line) => process.stderr.write(line),
    now: Date.now,
    ...options,
  }
  const threshold = LOG_LEVELS.indexOf(o.level)
  const emit = (level: LogLevel, message: string, fields?: Record<string, unknown>): void => {
    if (LOG_LEVELS.indexOf(level) < threshold) return
    const t = new Date(o.now())
    const ts = `${pad2(t.getHours())}:${pad2(t.getMinutes())}:${pad2(t.getSeconds())}`
    const extra = fields
      ? Object.entries(fields)
          .map(([k, v]) => ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join('')
      : ''
    o.write(`${ts} | ${level.toUpperCase().padEnd(8)} | ${o.name} | ${message}${extra}\n`)
  }
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (name) => createLogger({ ...o, name: `${o.name}:${name}` }),
  }
}

/** A logger that discards everything (the default collaborator in library code and tests). */
export const SILENT_LOGGER: Logger = createLogger({ level: 'silent' })
