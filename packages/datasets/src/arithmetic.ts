/**
 * The embedded `arithmetic` domain: a seeded generator of multi-step word problems in the style of
 * AQuA-RAT (Ling et al. 2017, "Program Induction by Rationale Generation: Learning to Solve and
 * Explain Algebraic Word Problems", the `deepmind/aqua_rat` dataset the original trains on;
 * spec core.md §15.1). Each problem draws its quantities from the `Rng`, then *computes* every
 * intermediate value of the rationale and the final answer from them — nothing in an answer is
 * a template constant. Parameters are drawn so that results are exact (integers or short
 * decimals), as in the textbook problems AQuA-RAT collects.
 *
 * Kinds: rates (distance, average speed, work), percentages (discount + tax, increase, profit),
 * ratios (sharing), ages (ratio, sum/difference), mixtures (dilution, alligation), interest
 * (simple, compound) and simple geometry (rectangle, right triangle, circle).
 */
import { createRng, deriveSeed, type Rng } from '@plora/common'
import { DatasetsError, DatasetsErrorCode } from './errors.js'
import type { QaPair } from './types.js'

/** Problem kinds produced by {@link generateArithmeticProblem}. */
export const ARITHMETIC_KINDS = [
  'distance',
  'average_speed',
  'work',
  'discount_tax',
  'percent_increase',
  'profit_percent',
  'ratio_share',
  'age_ratio',
  'age_sum',
  'dilution',
  'alligation',
  'simple_interest',
  'compound_interest',
  'rectangle',
  'right_triangle',
  'circle',
] as const
export type ArithmeticKind = (typeof ARITHMETIC_KINDS)[number]

/** One generated problem: the pair plus the drawn parameters and the numeric answer. */
export interface ArithmeticProblem extends QaPair {
  kind: ArithmeticKind
  /** The quantities drawn for this problem (what the question states). */
  params: Record<string, number>
  /** The final numeric answer (before formatting). */
  value: number
}

const NAMES = [
  'Ravi',
  'Maria',
  'John',
  'Aisha',
  'Chen',
  'Lena',
  'Omar',
  'Priya',
  'Tom',
  'Sara',
  'Kofi',
  'Elena',
  'Yuki',
  'Diego',
  'Nina',
  'Arjun',
]
const VEHICLES = ['train', 'car', 'bus', 'cyclist', 'truck', 'boat']
const GOODS = ['shirt', 'lamp', 'bicycle', 'watch', 'jacket', 'chair', 'kettle', 'backpack']
const LIQUIDS = ['alcohol', 'acid', 'salt', 'sugar']

function int(rng: Rng, lo: number, hi: number): number {
  return lo + rng.randbelow(hi - lo + 1)
}

function gcd(a: number, b: number): number {
  let x = Math.abs(a)
  let y = Math.abs(b)
  while (y) [x, y] = [y, x % y]
  return x
}

/** A number as a person writes it: integers plain, otherwise at most two decimals. */
export function formatQuantity(x: number): string {
  const r = Math.round(x * 100) / 100
  if (Number.isInteger(r)) return String(r)
  return r.toFixed(2).replace(/0+$/, '').replace(/\.$/, '')
}

function money(x: number): string {
  const r = Math.round(x * 100) / 100
  return Number.isInteger(r) ? `$${r}` : `$${r.toFixed(2)}`
}

function twoNames(rng: Rng): [string, string] {
  const [a, b] = rng.sample(NAMES, 2)
  return [a!, b!]
}

type Built = { question: string; steps: string[]; answer: string; value: number; params: Record<string, number> }

const BUILDERS: Record<ArithmeticKind, (rng: Rng) => Built> = {
  distance(rng) {
    const v = VEHICLES[rng.randbelow(VEHICLES.length)]!
    const s = 5 * int(rng, 4, 24)
    const t = int(rng, 2, 6)
    let t2 = int(rng, 1, 9)
    if (t2 === t) t2 += 1
    const d = s * t
    const d2 = s * t2
    return {
      question: `A ${v} travels ${d} km in ${t} hours. At the same speed, how far will it travel in ${t2} hours?`,
      steps: [
        `Speed = distance / time = ${d} / ${t} = ${s} km/h.`,
        `Distance in ${t2} hours = ${s} × ${t2} = ${d2} km.`,
      ],
      answer: `${d2} km`,
      value: d2,
      params: { distance: d, hours: t, hours2: t2 },
    }
  },
  average_speed(rng) {
    const pairs: Array<[number, number]> = [
      [1, 2],
      [2, 3],
      [1, 3],
      [3, 5],
      [1, 4],
      [2, 5],
      [3, 4],
    ]
    const [a, b] = pairs[rng.randbelow(pairs.length)]!
    // v1 = a·k, v2 = b·k with k chosen so that 2·v1·v2 / (v1 + v2) is an integer.
    const k = int(rng, 1, 8) * ((a + b) / gcd(2 * a * b, a + b))
    const [v1, v2] = rng.random() < 0.5 ? [a * k, b * k] : [b * k, a * k]
    const num = 2 * v1 * v2
    const den = v1 + v2
    const avg = num / den
    const v = VEHICLES[rng.randbelow(VEHICLES.length)]!
    return {
      question: `A ${v} goes from town P to town Q at ${v1} km/h and returns along the same road at ${v2} km/h. What is its average speed for the whole journey?`,
      steps: [
        `Let the distance each way be D km. Time going = D/${v1} h and time returning = D/${v2} h.`,
        `Average speed = total distance / total time = 2D / (D/${v1} + D/${v2}) = 2 × ${v1} × ${v2} / (${v1} + ${v2}).`,
        `= ${num} / ${den} = ${formatQuantity(avg)} km/h.`,
      ],
      answer: `${formatQuantity(avg)} km/h`,
      value: avg,
      params: { speed1: v1, speed2: v2 },
    }
  },
  work(rng) {
    // 1/a + 1/b = 1/T has the integer solutions a = T + x, b = T + T²/x for every divisor x of T².
    const T = int(rng, 2, 12)
    const divisors: number[] = []
    for (let x = 1; x <= T; x++) if ((T * T) % x === 0) divisors.push(x)
    const x = divisors[rng.randbelow(divisors.length)]!
    const a = T + x
    const b = T + (T * T) / x
    const [p, q] = twoNames(rng)
    return {
      question: `${p} can finish a job in ${a} days and ${q} can finish the same job in ${b} days. Working together, in how many days will they finish it?`,
      steps: [
        `In one day ${p} does 1/${a} of the job and ${q} does 1/${b} of it.`,
        `Together they do 1/${a} + 1/${b} = (${b} + ${a}) / (${a} × ${b}) = ${a + b}/${a * b} = 1/${T} of the job per day.`,
        `So they need ${T} days.`,
      ],
      answer: `${T} days`,
      value: T,
      params: { days1: a, days2: b },
    }
  },
  discount_tax(rng) {
    const g = GOODS[rng.randbelow(GOODS.length)]!
    const p = 20 * int(rng, 2, 40)
    const d = [5, 10, 15, 20, 25, 30, 40][rng.randbelow(7)]!
    const t = [5, 8, 10, 12, 15][rng.randbelow(5)]!
    const disc = (p * d) / 100
    const after = p - disc
    const tax = (after * t) / 100
    const fin = after + tax
    return {
      question: `A ${g} is marked at ${money(p)}. The shop gives a ${d}% discount and then adds ${t}% sales tax on the discounted price. What does the customer pay?`,
      steps: [
        `Discount = ${d}% of ${money(p)} = ${money(disc)}, so the discounted price is ${money(p)} − ${money(disc)} = ${money(after)}.`,
        `Tax = ${t}% of ${money(after)} = ${money(tax)}.`,
        `Final price = ${money(after)} + ${money(tax)} = ${money(fin)}.`,
      ],
      answer: money(fin),
      value: Math.round(fin * 100) / 100,
      params: { price: p, discount_pct: d, tax_pct: t },
    }
  },
  percent_increase(rng) {
    const a = 100 * int(rng, 12, 150)
    const pct = int(rng, 3, 60)
    const b = (a * (100 + pct)) / 100
    const inc = b - a
    return {
      question: `The population of a town rose from ${a} to ${b} in one decade. By what percentage did it increase?`,
      steps: [`Increase = ${b} − ${a} = ${inc}.`, `Percentage increase = ${inc} / ${a} × 100 = ${pct}%.`],
      answer: `${pct}%`,
      value: pct,
      params: { before: a, after: b },
    }
  },
  profit_percent(rng) {
    const g = GOODS[rng.randbelow(GOODS.length)]!
    const c = 25 * int(rng, 2, 40)
    const pct = [4, 8, 10, 12, 16, 20, 24, 25, 30, 36, 40, 50][rng.randbelow(12)]!
    const loss = rng.random() < 0.3
    const s = loss ? (c * (100 - pct)) / 100 : (c * (100 + pct)) / 100
    const diff = Math.abs(s - c)
    const word = loss ? 'loss' : 'profit'
    return {
      question: `A trader buys a ${g} for ${money(c)} and sells it for ${money(s)}. What is the ${word} percentage?`,
      steps: [
        `${loss ? 'Loss' : 'Profit'} = ${loss ? `${money(c)} − ${money(s)}` : `${money(s)} − ${money(c)}`} = ${money(diff)}.`,
        `${loss ? 'Loss' : 'Profit'} percentage = ${money(diff)} / ${money(c)} × 100 = ${pct}%.`,
      ],
      answer: `${pct}% ${word}`,
      value: pct,
      params: { cost: c, sale: s },
    }
  },
  ratio_share(rng) {
    const [p, q, r] = rng.sample(NAMES, 3) as [string, string, string]
    const r1 = int(rng, 1, 7)
    const r2 = int(rng, 1, 7)
    const r3 = int(rng, 1, 7)
    const parts = r1 + r2 + r3
    const unit = 5 * int(rng, 2, 60)
    const total = parts * unit
    const who = rng.randbelow(3)
    const share = [r1, r2, r3][who]! * unit
    const name = [p, q, r][who]!
    return {
      question: `${money(total)} is divided among ${p}, ${q} and ${r} in the ratio ${r1}:${r2}:${r3}. How much does ${name} receive?`,
      steps: [
        `Total parts = ${r1} + ${r2} + ${r3} = ${parts}.`,
        `One part = ${money(total)} / ${parts} = ${money(unit)}.`,
        `${name} receives ${[r1, r2, r3][who]} × ${money(unit)} = ${money(share)}.`,
      ],
      answer: money(share),
      value: share,
      params: { total, r1, r2, r3, who },
    }
  },
  age_ratio(rng) {
    for (;;) {
      const p = int(rng, 1, 6)
      const q = int(rng, 1, 6)
      if (p === q || gcd(p, q) !== 1) continue
      const x = int(rng, 2, 9)
      const n = int(rng, 2, 12)
      const P0 = p * x + n
      const Q0 = q * x + n
      const g = gcd(P0, Q0)
      const P = P0 / g
      const Q = Q0 / g
      const [a, b] = twoNames(rng)
      // Q(px + n) = P(qx + n)  ⇒  (Qp − Pq)x = n(P − Q); shown with a positive coefficient
      const sign = Q * p - P * q < 0 ? -1 : 1
      const lhs = sign * (Q * p - P * q)
      const rhs = sign * n * (P - Q)
      return {
        question: `The ages of ${a} and ${b} are in the ratio ${p}:${q}. In ${n} years their ages will be in the ratio ${P}:${Q}. How old is ${a} now?`,
        steps: [
          `Let the present ages be ${p}x and ${q}x.`,
          `Then (${p}x + ${n}) / (${q}x + ${n}) = ${P}/${Q}, so ${Q}(${p}x + ${n}) = ${P}(${q}x + ${n}).`,
          `${Q * p}x + ${Q * n} = ${P * q}x + ${P * n}, so ${lhs}x = ${rhs} and x = ${rhs / lhs}.`,
          `${a} is ${p} × ${x} = ${p * x} years old.`,
        ],
        answer: `${p * x} years`,
        value: p * x,
        params: { p, q, years: n, P, Q },
      }
    }
  },
  age_sum(rng) {
    const young = int(rng, 5, 40)
    const diff = int(rng, 1, 30)
    const sum = 2 * young + diff
    const [a, b] = twoNames(rng)
    return {
      question: `The sum of the ages of ${a} and ${b} is ${sum} years, and ${a} is ${diff} years older than ${b}. How old is ${b}?`,
      steps: [
        `Let ${b}'s age be x; then ${a}'s age is x + ${diff}.`,
        `x + (x + ${diff}) = ${sum}, so 2x = ${sum - diff} and x = ${young}.`,
      ],
      answer: `${young} years`,
      value: young,
      params: { sum, diff },
    }
  },
  dilution(rng) {
    for (;;) {
      const liquid = LIQUIDS[rng.randbelow(LIQUIDS.length)]!
      const v = 10 * int(rng, 1, 12)
      const c1 = 5 * int(rng, 4, 12)
      const c2 = 5 * int(rng, 1, c1 / 5 - 1)
      const pure = (v * c1) / 100
      const total = (pure * 100) / c2
      const water = total - v
      // keep only exact quarter-litre answers, as textbook problems do
      if (Math.round(water * 4) !== water * 4) continue
      return {
        question: `A ${v}-litre solution contains ${c1}% ${liquid}. How many litres of water must be added to bring it down to ${c2}% ${liquid}?`,
        steps: [
          `Pure ${liquid} = ${c1}% of ${v} = ${formatQuantity(pure)} litres, and it does not change.`,
          `At ${c2}% the total volume must be ${formatQuantity(pure)} / ${c2 / 100} = ${formatQuantity(total)} litres.`,
          `Water to add = ${formatQuantity(total)} − ${v} = ${formatQuantity(water)} litres.`,
        ],
        answer: `${formatQuantity(water)} litres`,
        value: water,
        params: { volume: v, c1, c2 },
      }
    }
  },
  alligation(rng) {
    for (;;) {
      const a = 5 * int(rng, 1, 8)
      const b = a + 5 * int(rng, 2, 10)
      const c = a + 5 * int(rng, 1, (b - a) / 5 - 1)
      const v = 5 * int(rng, 1, 12)
      // x litres at a% + v litres at b% = (x + v) litres at c%  ⇒  x = v(b − c) / (c − a)
      const x = (v * (b - c)) / (c - a)
      if (Math.round(x * 4) !== x * 4) continue
      return {
        question: `How many litres of a ${a}% acid solution must be mixed with ${v} litres of a ${b}% acid solution to obtain a ${c}% acid solution?`,
        steps: [
          `Let x litres of the ${a}% solution be used. Acid: ${a / 100}x + ${formatQuantity((b * v) / 100)} = ${c / 100}(x + ${v}).`,
          `${formatQuantity((c - a) / 100)}x = ${formatQuantity((b * v) / 100)} − ${formatQuantity((c * v) / 100)} = ${formatQuantity(((b - c) * v) / 100)}.`,
          `x = ${formatQuantity(x)} litres.`,
        ],
        answer: `${formatQuantity(x)} litres`,
        value: x,
        params: { a, b, c, volume: v },
      }
    }
  },
  simple_interest(rng) {
    const P = 100 * int(rng, 5, 200)
    const r = int(rng, 2, 15)
    const t = int(rng, 1, 8)
    const si = (P * r * t) / 100
    if (rng.random() < 0.5) {
      return {
        question: `Find the simple interest on ${money(P)} at ${r}% per annum for ${t} years.`,
        steps: [`Simple interest = P × R × T / 100 = ${P} × ${r} × ${t} / 100 = ${money(si)}.`],
        answer: money(si),
        value: si,
        params: { principal: P, rate: r, years: t },
      }
    }
    const A = P + si
    return {
      question: `A sum of money amounts to ${money(A)} in ${t} years at ${r}% per annum simple interest. What is the sum?`,
      steps: [
        `With simple interest, A = P(1 + R × T / 100) = P × (1 + ${r} × ${t} / 100) = P × ${formatQuantity(1 + (r * t) / 100)}.`,
        `P = ${money(A)} / ${formatQuantity(1 + (r * t) / 100)} = ${money(P)}.`,
      ],
      answer: money(P),
      value: P,
      params: { amount: A, rate: r, years: t },
    }
  },
  compound_interest(rng) {
    const P = 500 * int(rng, 1, 40)
    const r = [2, 4, 5, 6, 8, 10, 12, 15, 20][rng.randbelow(9)]!
    const t = int(rng, 2, 3)
    // exact in integer arithmetic: A = P·(100 + r)^t / 100^t, then rounded to cents
    const den = 100n ** BigInt(t)
    const exact = (BigInt(P) * BigInt(100 + r) ** BigInt(t) * 100n + den / 2n) / den
    const A = Number(exact) / 100
    const ci = A - P
    const yearly: string[] = []
    let acc = P
    for (let y = 1; y <= t; y++) {
      acc = (acc * (100 + r)) / 100
      yearly.push(`after year ${y}: ${money(acc)}`)
    }
    return {
      question: `${money(P)} is invested at ${r}% per annum, compounded annually. What is the compound interest after ${t} years?`,
      steps: [
        `Amount = P × (1 + R/100)^T = ${P} × ${formatQuantity(1 + r / 100)}^${t} (${yearly.join(', ')}).`,
        `Amount = ${money(A)}, so compound interest = ${money(A)} − ${money(P)} = ${money(ci)}.`,
      ],
      answer: money(ci),
      value: Math.round(ci * 100) / 100,
      params: { principal: P, rate: r, years: t },
    }
  },
  rectangle(rng) {
    const w = int(rng, 2, 40)
    const k = int(rng, 1, 25)
    const l = w + k
    const P = 2 * (l + w)
    const area = l * w
    return {
      question: `The length of a rectangle is ${k} cm more than its width, and its perimeter is ${P} cm. What is its area?`,
      steps: [
        `Let the width be w cm; the length is w + ${k} cm.`,
        `2(w + w + ${k}) = ${P}, so 2w + ${k} = ${P / 2} and w = ${w} cm; the length is ${l} cm.`,
        `Area = ${l} × ${w} = ${area} cm².`,
      ],
      answer: `${area} cm²`,
      value: area,
      params: { diff: k, perimeter: P },
    }
  },
  right_triangle(rng) {
    const triples: Array<[number, number, number]> = [
      [3, 4, 5],
      [5, 12, 13],
      [8, 15, 17],
      [7, 24, 25],
      [20, 21, 29],
      [9, 40, 41],
      [12, 35, 37],
      [11, 60, 61],
      [28, 45, 53],
      [33, 56, 65],
      [16, 63, 65],
      [48, 55, 73],
    ]
    const [a0, b0, c0] = triples[rng.randbelow(triples.length)]!
    const m = int(rng, 1, 15)
    const [a, b, c] = [a0 * m, b0 * m, c0 * m]
    const area = (a * b) / 2
    const form = rng.randbelow(3)
    if (form < 2) {
      const question =
        form === 0
          ? `The legs of a right triangle are ${a} cm and ${b} cm long. How long is its hypotenuse?`
          : `A ladder leans against a wall, touching it ${a} cm above the ground with its foot ${b} cm from the wall. How long is the ladder?`
      return {
        question,
        steps: [
          `By Pythagoras, hypotenuse² = ${a}² + ${b}² = ${a * a} + ${b * b} = ${c * c}.`,
          `Hypotenuse = √${c * c} = ${c} cm.`,
        ],
        answer: `${c} cm`,
        value: c,
        params: { a, b },
      }
    }
    return {
      question: `A right triangle has a hypotenuse of ${c} cm and one leg of ${a} cm. What is its area?`,
      steps: [
        `The other leg = √(${c}² − ${a}²) = √(${c * c} − ${a * a}) = √${b * b} = ${b} cm.`,
        `Area = ½ × ${a} × ${b} = ${formatQuantity(area)} cm².`,
      ],
      answer: `${formatQuantity(area)} cm²`,
      value: area,
      params: { c, a },
    }
  },
  circle(rng) {
    const things = ['circle', 'circular garden', 'circular pond', 'round table top', 'circular running track']
    const thing = things[rng.randbelow(things.length)]!
    // r a multiple of 7 keeps every quantity exact with π = 22/7
    const r = 7 * int(rng, 1, 40)
    const C = (44 * r) / 7
    const area = (22 * r * r) / 7
    if (rng.random() < 0.5) {
      return {
        question: `The circumference of a ${thing} is ${C} m. What is its area? (Use π = 22/7.)`,
        steps: [
          `Circumference = 2πr, so r = ${C} / (2 × 22/7) = ${C} × 7 / 44 = ${r} m.`,
          `Area = πr² = 22/7 × ${r} × ${r} = ${area} m².`,
        ],
        answer: `${area} m²`,
        value: area,
        params: { circumference: C },
      }
    }
    return {
      question: `The area of a ${thing} is ${area} m². What is its circumference? (Use π = 22/7.)`,
      steps: [
        `Area = πr², so r² = ${area} × 7 / 22 = ${r * r} and r = ${r} m.`,
        `Circumference = 2πr = 2 × 22/7 × ${r} = ${C} m.`,
      ],
      answer: `${C} m`,
      value: C,
      params: { area },
    }
  },
}

/** One problem of `kind` (or of a kind drawn from `rng`). */
export function generateArithmeticProblem(rng: Rng, kind?: ArithmeticKind): ArithmeticProblem {
  const k = kind ?? ARITHMETIC_KINDS[rng.randbelow(ARITHMETIC_KINDS.length)]!
  const b = BUILDERS[k](rng)
  // AQuA-RAT rationales are step-by-step text ending in an "Answer:" line.
  return {
    kind: k,
    question: b.question,
    answer: `${b.steps.join('\n')}\nAnswer: ${b.answer}`,
    params: b.params,
    value: b.value,
  }
}

/** Options of {@link generateArithmeticProblems}. */
export interface ArithmeticOptions {
  /** Seed of the generator (the same seed gives the same problems). */
  seed: number
  /** Number of distinct problems. */
  count: number
}

/** Defaults: seed 42, 4,000 problems (≈ 3,200 train / 400 validation / 400 test). */
export const DEFAULT_ARITHMETIC_OPTIONS: ArithmeticOptions = { seed: 42, count: 4000 }

/**
 * `count` distinct problems (distinct questions) from `seed`. Kinds rotate round-robin so every
 * kind is equally represented; the quantities come from one `Rng` stream derived from the seed.
 */
export function generateArithmeticProblems(options: Partial<ArithmeticOptions> = {}): ArithmeticProblem[] {
  const o = { ...DEFAULT_ARITHMETIC_OPTIONS, ...options }
  const rng = createRng(deriveSeed(o.seed, 'datasets', 'arithmetic'))
  const seen = new Set<string>()
  const out: ArithmeticProblem[] = []
  while (out.length < o.count) {
    const kind = ARITHMETIC_KINDS[out.length % ARITHMETIC_KINDS.length]!
    let added = false
    // each kind has thousands of distinct parameter draws; the attempt cap only stops a runaway
    for (let attempt = 0; attempt < 1000 && !added; attempt++) {
      const p = generateArithmeticProblem(rng, kind)
      if (seen.has(p.question)) continue
      seen.add(p.question)
      out.push(p)
      added = true
    }
    if (!added) {
      throw new DatasetsError(
        DatasetsErrorCode.OptionsInvalid,
        `cannot generate ${o.count} distinct arithmetic problems: kind "${kind}" ran out of new questions after ${out.length} problems`,
        { count: o.count, kind },
      )
    }
  }
  return out
}
