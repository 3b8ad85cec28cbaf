/**
 * The original's colours (spec pipelines.md §16.3): one per domain and per topology, so a domain
 * or topology has the same colour in every figure.
 */

/** `COLORS` of `plora/plotting.py`. */
export const COLORS = {
  medical: '#2E86AB',
  legal: '#A23B72',
  arithmetic: '#F18F01',
  primary: '#2E86AB',
  secondary: '#A23B72',
  accent: '#F18F01',
  neutral: '#6B7280',
} as const

/** Domain → colour. */
export const DOMAIN_COLORS: Readonly<Record<string, string>> = {
  arithmetic: COLORS.arithmetic,
  legal: COLORS.legal,
  medical: COLORS.medical,
}

/** Topology → colour (`er #2ecc71`, `ws #3498db`, `ba #e74c3c`). */
export const TOPOLOGY_COLORS: Readonly<Record<string, string>> = { er: '#2ecc71', ws: '#3498db', ba: '#e74c3c' }

/** Topology → display name. */
export const TOPOLOGY_NAMES: Readonly<Record<string, string>> = {
  er: 'Erdős-Rényi',
  ws: 'Watts-Strogatz',
  ba: 'Barabási-Albert',
}

// Colours for keys outside the original's palette (Okabe–Ito, colour-vision safe).
const EXTRA = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442']

/**
 * A Vega-Lite colour scale for the given keys: the palette's colour where it has one, then the
 * extra colours in order.
 */
export function colorScale(
  keys: readonly string[],
  palette: Readonly<Record<string, string>>,
): { domain: string[]; range: string[] } {
  let k = 0
  const range = keys.map((key) => palette[key] ?? EXTRA[k++ % EXTRA.length]!)
  return { domain: [...keys], range }
}
