import { PloraError } from '@plora/common'

/** Error codes of `@plora/swarm` (STYLE.md §4: `PACKAGE_NOUN_PROBLEM`, stable once released). */
export const SwarmErrorCode = {
  GraphArgumentInvalid: 'SWARM_GRAPH_ARGUMENT_INVALID',
  OptionInvalid: 'SWARM_OPTION_INVALID',
  KnowledgeInvalid: 'SWARM_KNOWLEDGE_INVALID',
  HistoryEmpty: 'SWARM_HISTORY_EMPTY',
  AdapterInvalid: 'SWARM_ADAPTER_INVALID',
  PopulationNotFound: 'SWARM_POPULATION_NOT_FOUND',
  PopulationInvalid: 'SWARM_POPULATION_INVALID',
  PopulationDomainEmpty: 'SWARM_POPULATION_DOMAIN_EMPTY',
  GateUnavailable: 'SWARM_GATE_UNAVAILABLE',
  ReportInvalid: 'SWARM_REPORT_INVALID',
  SpectralFailed: 'SWARM_SPECTRAL_FAILED',
  ConsensusInvalid: 'SWARM_CONSENSUS_INVALID',
  SweepFailed: 'SWARM_SWEEP_FAILED',
} as const
export type SwarmErrorCode = (typeof SwarmErrorCode)[keyof typeof SwarmErrorCode]

/** The error class of `@plora/swarm`. */
export class SwarmError extends PloraError<SwarmErrorCode> {
  override name = 'SwarmError'
}

/** Throws `SWARM_OPTION_INVALID` unless `ok`; `what` says which option and what was expected. */
export function requireOption(ok: boolean, what: string, found: unknown): asserts ok {
  if (!ok) {
    throw new SwarmError(SwarmErrorCode.OptionInvalid, `invalid option: ${what} (found ${JSON.stringify(found)})`, {
      found,
    })
  }
}
