import type { ProgressCallback, ProgressEvent } from '@plora/common'
import cliProgress from 'cli-progress'

function formatInfo(info: Record<string, number | string> | undefined): string {
  if (!info) return ''
  return Object.entries(info)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? (Number.isInteger(v) ? v : v.toPrecision(4)) : v}`)
    .join(' ')
}

/**
 * Turns library progress events into output on stderr: a cli-progress bar per task on a terminal,
 * otherwise (CI, pipes, logs) one plain line at start, at most every `intervalMs` while running,
 * and at the end.
 */
export function createProgressReporter(
  options: { stream?: NodeJS.WriteStream; intervalMs?: number; now?: () => number } = {},
): ProgressCallback {
  const stream = options.stream ?? process.stderr
  const intervalMs = options.intervalMs ?? 5000
  const now = options.now ?? Date.now
  if (stream.isTTY) {
    const bars = new Map<string, cliProgress.SingleBar>()
    return (e: ProgressEvent) => {
      if (e.status === 'start') {
        const bar = new cliProgress.SingleBar(
          { stream, format: `${e.task} [{bar}] {percentage}% {value}/{total} {info}`, hideCursor: true },
          cliProgress.Presets.shades_classic,
        )
        bar.start(e.total ?? 0, 0, { info: '' })
        bars.set(e.task, bar)
      } else if (e.status === 'progress') {
        const bar = bars.get(e.task)
        if (e.total !== undefined) bar?.setTotal(e.total)
        bar?.update(e.done, { info: formatInfo(e.info) })
      } else {
        const bar = bars.get(e.task)
        bar?.update({ info: formatInfo(e.info) })
        bar?.stop()
        bars.delete(e.task)
      }
    }
  }
  const last = new Map<string, number>()
  return (e: ProgressEvent) => {
    const t = now()
    if (e.status === 'start') {
      last.set(e.task, t)
      stream.write(`[${e.task}] started${e.total !== undefined ? ` (${e.total} steps)` : ''}\n`)
    } else if (e.status === 'progress') {
      if (t - (last.get(e.task) ?? 0) < intervalMs) return
      last.set(e.task, t)
      const of = e.total !== undefined ? `/${e.total}` : ''
      stream.write(`[${e.task}] ${e.done}${of} ${formatInfo(e.info)}\n`)
    } else {
      last.delete(e.task)
      stream.write(`[${e.task}] done ${formatInfo(e.info)}\n`)
    }
  }
}
