/**
 * Average ranks (scipy `rankdata(method="average")`): ties share the mean of the ranks they
 * would occupy; ranks start at 1.
 */

/** Average ranks of `values` (1-based), plus the sizes of every tie group (size ≥ 2). */
export function averageRanks(values: ArrayLike<number>): { ranks: Float64Array; tieSizes: number[] } {
  const n = values.length
  const order = Array.from({ length: n }, (_, i) => i)
  order.sort((a, b) => (values[a] as number) - (values[b] as number) || a - b)
  const ranks = new Float64Array(n)
  const tieSizes: number[] = []
  let i = 0
  while (i < n) {
    let j = i + 1
    while (j < n && values[order[j] as number] === values[order[i] as number]) j++
    // positions i..j-1 (0-based) share rank mean((i+1)..j) = (i + 1 + j) / 2
    const r = (i + 1 + j) / 2
    for (let t = i; t < j; t++) ranks[order[t] as number] = r
    if (j - i > 1) tieSizes.push(j - i)
    i = j
  }
  return { ranks, tieSizes }
}
