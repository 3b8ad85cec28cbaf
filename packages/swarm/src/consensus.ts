/**
 * Quorum consensus on plasmid digests (spec swarm.md §7, with its REC).
 *
 * The original kept a single global slot 0, so at most one adapter could ever diffuse under
 * consensus ([D-11]); it had no proposal phase and no equivocation check. Here a slot is keyed per
 * domain (or any plasmid key), a value may need a proposal before votes count, a voter that votes
 * for a second value in the same slot is ignored (and counted), and quorum counts distinct voters.
 * Safety: at most one value is committed per slot, and the first to reach quorum wins for good.
 * The `vote`/`committed` API of the original is kept, so its unit test applies unchanged.
 * Note: without equivocation, a vote split between several values of one slot can leave it
 * uncommitted for good (each voter is bound to its first value) — as in any single-round vote.
 */
import { SwarmError, SwarmErrorCode } from './errors.js'

/** A slot key: the original used integers; the swarm uses the domain name. */
export type Slot = number | string

/** One vote, with the original's field names. */
export interface Vote {
  agent_id: number | string
  slot: Slot
  sha256: string
}

/** Options of {@link ConsensusEngine}. */
export interface ConsensusOptions {
  /** Votes count only for (slot, value) pairs that were proposed first (default false). */
  requireProposal: boolean
}

/** Proposal → vote → commit per slot with a quorum of distinct voters. */
export class ConsensusEngine {
  readonly quorum: number
  readonly #requireProposal: boolean
  readonly #voters = new Map<string, Map<string, Set<string>>>()
  readonly #votedFor = new Map<string, Map<string, string>>()
  readonly #proposals = new Map<string, Set<string>>()
  readonly #committed = new Map<string, string>()
  /** Votes ignored because the voter had already voted for another value in the slot. */
  equivocations = 0
  /** Votes ignored because their value had not been proposed. */
  unproposedVotes = 0

  constructor(quorum: number, options: Partial<ConsensusOptions> = {}) {
    if (!Number.isInteger(quorum)) {
      throw new SwarmError(SwarmErrorCode.ConsensusInvalid, `consensus: quorum must be an integer (found ${quorum})`)
    }
    // The original passed max(1, quorum); quorum ≤ 0 means the first vote commits.
    this.quorum = Math.max(1, quorum)
    this.#requireProposal = options.requireProposal ?? false
  }

  /** Registers `sha256` as a candidate value for `slot` (the sender's proposal message). */
  propose(slot: Slot, sha256: string): void {
    const key = String(slot)
    const set = this.#proposals.get(key) ?? new Set<string>()
    this.#proposals.set(key, set)
    set.add(sha256)
  }

  /**
   * Casts a vote and returns the committed value of the slot, or null while none is committed.
   * A committed slot never changes.
   */
  vote(v: Vote): string | null {
    const slot = String(v.slot)
    const done = this.#committed.get(slot)
    if (done !== undefined) return done
    if (this.#requireProposal && !this.#proposals.get(slot)?.has(v.sha256)) {
      this.unproposedVotes++
      return null
    }
    const voter = String(v.agent_id)
    const votedFor = this.#votedFor.get(slot) ?? new Map<string, string>()
    this.#votedFor.set(slot, votedFor)
    const previous = votedFor.get(voter)
    if (previous !== undefined && previous !== v.sha256) {
      this.equivocations++
      return null
    }
    votedFor.set(voter, v.sha256)
    const bySha = this.#voters.get(slot) ?? new Map<string, Set<string>>()
    this.#voters.set(slot, bySha)
    const set = bySha.get(v.sha256) ?? new Set<string>()
    bySha.set(v.sha256, set)
    set.add(voter)
    if (set.size >= this.quorum) {
      this.#committed.set(slot, v.sha256)
      return v.sha256
    }
    return null
  }

  /** The committed value of `slot`, or null. */
  committed(slot: Slot): string | null {
    return this.#committed.get(String(slot)) ?? null
  }

  /** Every committed slot → value, in slot order (the report's `consensus.committed`). */
  committedSlots(): Record<string, string> {
    return Object.fromEntries([...this.#committed.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  }
}
