/**
 * A static k-d tree under the max-norm (Chebyshev, L∞) distance, for the k-NN information
 * estimators: k-nearest-neighbour queries and counts of points within a radius.
 *
 * Build: recursive split of the widest bounding-box dimension at the median (quickselect),
 * leaves of ≤ 16 points, points copied in tree order for locality. Queries prune subtrees by
 * the L∞ distance from the query to the node's bounding box, so a k-NN query costs about
 * O(log N + k) in low dimension and the whole KSG estimate O(N log N) instead of the
 * original's O(N²·d) distance cube (swarm.md §17.4).
 *
 * Determinism with ties: the k nearest neighbours are the k smallest (distance, index) pairs, so
 * equal distances are broken by the lower point index, whatever the traversal order. Written
 * here because no maintained npm k-d tree offers L∞ k-NN with strict/inclusive radius counts in
 * arbitrary dimension on Float64Array (kdbush is 2-D boxes only, static-kdtree is L2).
 */

const LEAF_SIZE = 16

/** A static Chebyshev k-d tree over N points of dimension d (row-major input). */
export class ChebyshevKdTree {
  readonly n: number
  readonly dim: number
  /** perm[p] = original index of the point stored at tree position p. */
  readonly #perm: Int32Array
  /** Points in tree order, row-major. */
  readonly #pts: Float64Array
  // Node arrays (node 0 is the root).
  #start: number[] = []
  #end: number[] = []
  #left: number[] = []
  #right: number[] = []
  #lo: number[] = []
  #hi: number[] = []
  // Leaves whose points are all identical (zero spread), stored in ascending index order.
  #uniform: boolean[] = []

  constructor(points: Float64Array, n: number, dim: number) {
    this.n = n
    this.dim = dim
    const perm = new Int32Array(n)
    for (let i = 0; i < n; i++) perm[i] = i
    this.#perm = perm
    if (n > 0) this.#build(points, 0, n)
    const pts = new Float64Array(n * dim)
    for (let p = 0; p < n; p++) {
      const src = (perm[p] as number) * dim
      for (let j = 0; j < dim; j++) pts[p * dim + j] = points[src + j] as number
    }
    this.#pts = pts
  }

  #build(points: Float64Array, start: number, end: number): number {
    const d = this.dim
    const node = this.#start.length
    this.#start.push(start)
    this.#end.push(end)
    this.#left.push(-1)
    this.#right.push(-1)
    this.#uniform.push(false)
    // Bounding box of the node's points.
    const lo = new Array<number>(d).fill(Number.POSITIVE_INFINITY)
    const hi = new Array<number>(d).fill(Number.NEGATIVE_INFINITY)
    const perm = this.#perm
    for (let p = start; p < end; p++) {
      const base = (perm[p] as number) * d
      for (let j = 0; j < d; j++) {
        const v = points[base + j] as number
        if (v < (lo[j] as number)) lo[j] = v
        if (v > (hi[j] as number)) hi[j] = v
      }
    }
    for (let j = 0; j < d; j++) {
      this.#lo.push(lo[j] as number)
      this.#hi.push(hi[j] as number)
    }
    if (end - start <= LEAF_SIZE) return node
    let split = 0
    let spread = -1
    for (let j = 0; j < d; j++) {
      const s = (hi[j] as number) - (lo[j] as number)
      if (s > spread) {
        spread = s
        split = j
      }
    }
    if (spread <= 0) {
      // All points identical (heavy ties, e.g. counts without jitter): one leaf sorted by index,
      // so a k-NN scan can stop after k points (equal distances are broken by index).
      const seg = Array.from(perm.subarray(start, end)).sort((a, b) => a - b)
      perm.set(seg, start)
      this.#uniform[node] = true
      return node
    }
    const mid = (start + end) >> 1
    this.#select(points, start, end - 1, mid, split)
    this.#left[node] = this.#build(points, start, mid)
    this.#right[node] = this.#build(points, mid, end)
    return node
  }

  // Hoare quickselect on perm[lo..hi] so that perm[k] holds the median of coordinate `dim`.
  #select(points: Float64Array, lo: number, hi: number, k: number, dim: number): void {
    const perm = this.#perm
    const d = this.dim
    const key = (p: number): number => points[(perm[p] as number) * d + dim] as number
    while (hi > lo) {
      const pivot = key((lo + hi) >> 1)
      let i = lo
      let j = hi
      while (i <= j) {
        while (key(i) < pivot) i++
        while (key(j) > pivot) j--
        if (i <= j) {
          const t = perm[i] as number
          perm[i] = perm[j] as number
          perm[j] = t
          i++
          j--
        }
      }
      if (k <= j) hi = j
      else if (k >= i) lo = i
      else return
    }
  }

  // L∞ distance from the query to the node's bounding box (0 inside).
  #boxMin(node: number, q: ArrayLike<number>, qOff: number): number {
    let m = 0
    const d = this.dim
    for (let j = 0; j < d; j++) {
      const v = q[qOff + j] as number
      const lo = this.#lo[node * d + j] as number
      const hi = this.#hi[node * d + j] as number
      const g = v < lo ? lo - v : v > hi ? v - hi : 0
      if (g > m) m = g
    }
    return m
  }

  // Largest L∞ distance from the query to any point of the node's bounding box.
  #boxMax(node: number, q: ArrayLike<number>, qOff: number): number {
    let m = 0
    const d = this.dim
    for (let j = 0; j < d; j++) {
      const v = q[qOff + j] as number
      const a = Math.abs(v - (this.#lo[node * d + j] as number))
      const b = Math.abs((this.#hi[node * d + j] as number) - v)
      const g = Math.max(a, b)
      if (g > m) m = g
    }
    return m
  }

  /**
   * The k nearest neighbours of the query point `q[qOff..qOff+d)`, excluding the point with
   * original index `exclude` (pass −1 to keep all). Writes ascending (distance, index) pairs to
   * `outDist`/`outIdx` (length ≥ k) and returns how many were found (min(k, available)).
   */
  knn(
    q: ArrayLike<number>,
    qOff: number,
    k: number,
    exclude: number,
    outDist: Float64Array,
    outIdx: Int32Array,
  ): number {
    // A bounded max-heap on (distance, index), stored in outDist/outIdx.
    let size = 0
    const d = this.dim
    const pts = this.#pts
    const perm = this.#perm
    const worse = (a: number, b: number): boolean =>
      (outDist[a] as number) > (outDist[b] as number) ||
      ((outDist[a] as number) === (outDist[b] as number) && (outIdx[a] as number) > (outIdx[b] as number))
    const swap = (a: number, b: number): void => {
      const td = outDist[a] as number
      outDist[a] = outDist[b] as number
      outDist[b] = td
      const ti = outIdx[a] as number
      outIdx[a] = outIdx[b] as number
      outIdx[b] = ti
    }
    const push = (dist: number, idx: number): void => {
      if (size < k) {
        outDist[size] = dist
        outIdx[size] = idx
        let c = size++
        while (c > 0) {
          const p = (c - 1) >> 1
          if (!worse(c, p)) break
          swap(c, p)
          c = p
        }
        return
      }
      const top = outDist[0] as number
      if (dist > top || (dist === top && idx > (outIdx[0] as number))) return
      outDist[0] = dist
      outIdx[0] = idx
      let c = 0
      for (;;) {
        const l = 2 * c + 1
        const r = l + 1
        let m = c
        if (l < size && worse(l, m)) m = l
        if (r < size && worse(r, m)) m = r
        if (m === c) break
        swap(c, m)
        c = m
      }
    }
    const visit = (node: number): void => {
      if (size === k && this.#boxMin(node, q, qOff) > (outDist[0] as number)) return
      const left = this.#left[node] as number
      if (left < 0) {
        const end = this.#end[node] as number
        const uniform = this.#uniform[node] as boolean
        let taken = 0
        for (let p = this.#start[node] as number; p < end; p++) {
          const idx = perm[p] as number
          if (idx === exclude) continue
          // identical points in index order: later ones can never beat the first k
          if (uniform && taken++ >= k) break
          let dist = 0
          const base = p * d
          for (let j = 0; j < d; j++) {
            const g = Math.abs((pts[base + j] as number) - (q[qOff + j] as number))
            if (g > dist) dist = g
          }
          push(dist, idx)
        }
        return
      }
      const right = this.#right[node] as number
      const dl = this.#boxMin(left, q, qOff)
      const dr = this.#boxMin(right, q, qOff)
      if (dl <= dr) {
        visit(left)
        visit(right)
      } else {
        visit(right)
        visit(left)
      }
    }
    if (this.n > 0) visit(0)
    // Heap → ascending order.
    const found = size
    for (let end = size - 1; end > 0; end--) {
      swap(0, end)
      size = end
      let c = 0
      for (;;) {
        const l = 2 * c + 1
        const r = l + 1
        let m = c
        if (l < size && worse(l, m)) m = l
        if (r < size && worse(r, m)) m = r
        if (m === c) break
        swap(c, m)
        c = m
      }
    }
    return found
  }

  /**
   * Number of points whose L∞ distance to `q[qOff..)` is < r (`strict`) or ≤ r, the query point
   * itself included if it is in the tree.
   */
  countWithin(q: ArrayLike<number>, qOff: number, r: number, strict: boolean): number {
    const d = this.dim
    const pts = this.#pts
    let count = 0
    const visit = (node: number): void => {
      const mn = this.#boxMin(node, q, qOff)
      if (strict ? mn >= r : mn > r) return
      const mx = this.#boxMax(node, q, qOff)
      if (strict ? mx < r : mx <= r) {
        count += (this.#end[node] as number) - (this.#start[node] as number)
        return
      }
      const left = this.#left[node] as number
      if (left < 0) {
        const end = this.#end[node] as number
        for (let p = this.#start[node] as number; p < end; p++) {
          let dist = 0
          const base = p * d
          for (let j = 0; j < d; j++) {
            const g = Math.abs((pts[base + j] as number) - (q[qOff + j] as number))
            if (g > dist) dist = g
          }
          if (strict ? dist < r : dist <= r) count++
        }
        return
      }
      visit(left)
      visit(this.#right[node] as number)
    }
    if (this.n > 0) visit(0)
    return count
  }
}

/**
 * Counts in one dimension by binary search on sorted values: #{j : |v_j − q| < r} (strict) or
 * ≤ r. Boundaries are re-checked with the same |v_j − q| arithmetic the brute-force definition
 * uses, so results agree exactly with it.
 */
export class SortedCounter {
  readonly #v: Float64Array

  constructor(values: ArrayLike<number>) {
    this.#v = Float64Array.from(values).sort()
  }

  count(q: number, r: number, strict: boolean): number {
    const v = this.#v
    const n = v.length
    const inside = (x: number): boolean => (strict ? Math.abs(x - q) < r : Math.abs(x - q) <= r)
    // first index with v ≥ q − r (approximately), then fix up with the exact test
    let lo = lowerBound(v, q - r)
    while (lo > 0 && inside(v[lo - 1] as number)) lo--
    while (lo < n && (v[lo] as number) <= q && !inside(v[lo] as number)) lo++
    let hi = lowerBound(v, q + r)
    while (hi < n && inside(v[hi] as number)) hi++
    while (hi > lo && (v[hi - 1] as number) >= q && !inside(v[hi - 1] as number)) hi--
    return Math.max(0, hi - lo)
  }
}

function lowerBound(v: Float64Array, x: number): number {
  let lo = 0
  let hi = v.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((v[mid] as number) < x) lo = mid + 1
    else hi = mid
  }
  return lo
}
