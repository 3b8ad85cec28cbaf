/**
 * Progress reporting as data (STYLE.md §5, after transformers.js): long operations call an
 * optional {@link ProgressCallback} with events discriminated on `status`; only the CLI draws bars.
 */

/** One progress event. `total` may be unknown; `info` carries live figures such as loss or tokens/s. */
export type ProgressEvent =
  | { status: 'start'; task: string; total?: number }
  | { status: 'progress'; task: string; done: number; total?: number; info?: Record<string, number | string> }
  | { status: 'done'; task: string; info?: Record<string, number | string> }

/** Receives progress events. */
export type ProgressCallback = (event: ProgressEvent) => void

/** A callback that ignores every event. */
export const NO_PROGRESS: ProgressCallback = () => {}
