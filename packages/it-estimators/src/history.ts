/**
 * Reader of swarm history files (swarm.md §8.5): a JSON array with one element per round, each
 * mapping string agent ids "0".."N−1" to the sorted list of domains the agent holds after that
 * round. Also accepted: an object with that array under `history` (for reports that embed it).
 * Parsed with zod; errors say which snapshot and agent are wrong.
 */
import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { ItError, ItErrorCode } from './errors.js'

/** One snapshot: agent id → domains held. */
export type HistorySnapshot = Readonly<Record<string, readonly string[]>>

const SnapshotSchema = z.record(
  z.string().regex(/^\d+$/, 'agent ids must be non-negative integers'),
  z.array(z.string()),
)
/** The zod schema of a history file. */
export const SwarmHistorySchema = z.union([
  z.array(SnapshotSchema),
  z.object({ history: z.array(SnapshotSchema) }).loose(),
])

/** Validates parsed JSON as a history; `where` names the source in error messages. */
export function parseSwarmHistory(json: unknown, where = 'history'): HistorySnapshot[] {
  const r = SwarmHistorySchema.safeParse(json)
  if (!r.success) {
    const issue = r.error.issues[0]
    throw new ItError(
      ItErrorCode.HistoryInvalid,
      `${where}: not a swarm history (expected an array of {agentId: [domains]} snapshots): ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : r.error.message}`,
      { issues: r.error.issues.slice(0, 5) },
    )
  }
  const snaps = Array.isArray(r.data) ? r.data : r.data.history
  if (snaps.length === 0) throw new ItError(ItErrorCode.HistoryInvalid, `${where}: the history has no snapshots`)
  const agents = Object.keys(snaps[0] as object).sort()
  for (let t = 1; t < snaps.length; t++) {
    const keys = Object.keys(snaps[t] as object).sort()
    if (keys.length !== agents.length || keys.some((k, i) => k !== agents[i])) {
      throw new ItError(
        ItErrorCode.HistoryInvalid,
        `${where}: snapshot ${t} has agents [${keys.join(',')}] but snapshot 0 has [${agents.join(',')}]; expected the same agents in every snapshot`,
        { snapshot: t },
      )
    }
  }
  return snaps
}

/** Reads and validates a history file. */
export async function readSwarmHistory(path: string): Promise<HistorySnapshot[]> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (e) {
    throw new ItError(
      ItErrorCode.HistoryInvalid,
      `cannot read history file ${path}: ${(e as Error).message}`,
      { path },
      { cause: e },
    )
  }
  let json: unknown
  try {
    // Python may write NaN/Infinity; a history holds none, so plain JSON.parse is right here.
    json = JSON.parse(text)
  } catch (e) {
    throw new ItError(
      ItErrorCode.HistoryInvalid,
      `history file ${path} is not valid JSON: ${(e as Error).message}`,
      { path },
      { cause: e },
    )
  }
  return parseSwarmHistory(json, path)
}
