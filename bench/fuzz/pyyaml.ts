/**
 * PyYAML as an independent reference reader (the manifest must read back identically in the
 * original's Python, spec core.md §1). Optional: used when `python3 -c "import yaml"` works.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process'
import { createInterface } from 'node:readline'

const SCRIPT = String.raw`
import sys, json, base64, math, yaml
def norm(v):
    if isinstance(v, bool) or v is None or isinstance(v, str): return v
    if isinstance(v, int): return v if abs(v) < 2**53 else {"bigint": str(v)}
    if isinstance(v, float): return {"float": repr(v)} if not math.isfinite(v) else v
    if isinstance(v, list): return [norm(x) for x in v]
    if isinstance(v, dict): return {"map": sorted([[norm(k), norm(x)] for k, x in v.items()], key=lambda p: str(p[0]))}
    return {"type": type(v).__name__}
for line in sys.stdin:
    try:
        text = base64.b64decode(line).decode("utf-8")
        out = {"ok": norm(yaml.safe_load(text))}
    except Exception as e:
        out = {"err": type(e).__name__}
    sys.stdout.write(json.dumps(out) + "\n"); sys.stdout.flush()
`

export interface PyYaml {
  load(bytes: Uint8Array): Promise<{ ok: unknown } | { err: string }>
  close(): void
}

/** Starts a PyYAML reader, or returns null when python3 with PyYAML is not available. */
export function startPyYaml(): PyYaml | null {
  const probe = spawnSync('python3', ['-c', 'import yaml'], { stdio: 'ignore' })
  if (probe.status !== 0) return null
  const child: ChildProcessWithoutNullStreams = spawn('python3', ['-u', '-c', SCRIPT], { stdio: 'pipe' })
  const rl = createInterface({ input: child.stdout })
  const waiting: Array<(line: string) => void> = []
  rl.on('line', (line) => waiting.shift()?.(line))
  return {
    load: (bytes) =>
      new Promise((resolve) => {
        waiting.push((line) => resolve(JSON.parse(line)))
        child.stdin.write(`${Buffer.from(bytes).toString('base64')}\n`)
      }),
    close: () => {
      child.stdin.end()
      child.kill()
    },
  }
}

/** A JS value normalised the way the Python side normalises its result. */
export function normForPy(v: unknown): unknown {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v
  // JS has one number type: ints and floats compare by value (the schema checks integrality).
  if (typeof v === 'number') return Number.isFinite(v) ? v : { float: String(v) }
  if (Array.isArray(v)) return v.map(normForPy)
  if (typeof v === 'object') {
    // Key order carries no meaning (merge keys `<<` place keys differently in the two readers).
    const pairs = Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, normForPy(x)] as const)
    return { map: pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) }
  }
  return { type: typeof v }
}
