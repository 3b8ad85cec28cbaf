/**
 * A counting semaphore with a bounded wait queue: bounds how many payloads a server produces at
 * once (memory, file handles, CPU) without refusing short bursts.
 */
import { GrpcError, GrpcErrorCode } from './errors.js'

/** Counting semaphore; `acquire` resolves to a release function. */
export class Semaphore {
  readonly #limit: number
  readonly #maxQueued: number
  #active = 0
  readonly #queue: Array<{ grant: () => void }> = []

  constructor(limit: number, maxQueued: number) {
    this.#limit = limit
    this.#maxQueued = maxQueued
  }

  /** Number of holders now. */
  get active(): number {
    return this.#active
  }

  /** Number of waiters now. */
  get waiting(): number {
    return this.#queue.length
  }

  /**
   * Takes a slot, waiting in FIFO order when all are held. Raises `GRPC_SERVER_BUSY` when the
   * queue is full; an aborted `signal` removes the waiter and rejects with the abort reason.
   */
  acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted()
    const release = this.#releaser()
    if (this.#active < this.#limit) {
      this.#active++
      return Promise.resolve(release)
    }
    if (this.#queue.length >= this.#maxQueued) {
      return Promise.reject(
        new GrpcError(
          GrpcErrorCode.ServerBusy,
          `server busy: ${this.#active} transfers running and ${this.#queue.length} waiting; try again later`,
          { active: this.#active, waiting: this.#queue.length },
        ),
      )
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort)
          this.#active++
          resolve(release)
        },
      }
      const onAbort = (): void => {
        const i = this.#queue.indexOf(waiter)
        if (i >= 0) this.#queue.splice(i, 1)
        reject(signal?.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#queue.push(waiter)
    })
  }

  #releaser(): () => void {
    let released = false
    return () => {
      if (released) return
      released = true
      this.#active--
      this.#queue.shift()?.grant()
    }
  }
}
