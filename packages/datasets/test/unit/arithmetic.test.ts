import { createRng } from '@plora/common'
import { describe, expect, it } from 'vitest'
import {
  ARITHMETIC_KINDS,
  type ArithmeticProblem,
  formatQuantity,
  generateArithmeticProblem,
  generateArithmeticProblems,
} from '../../src/index.js'

/** An independent solver per kind: recomputes the answer from the quantities the question states. */
const SOLVE: Record<string, (p: Record<string, number>) => number> = {
  distance: (p) => (p.distance! / p.hours!) * p.hours2!,
  average_speed: (p) => (2 * p.speed1! * p.speed2!) / (p.speed1! + p.speed2!),
  work: (p) => 1 / (1 / p.days1! + 1 / p.days2!),
  discount_tax: (p) => Math.round(p.price! * (1 - p.discount_pct! / 100) * (1 + p.tax_pct! / 100) * 100) / 100,
  percent_increase: (p) => ((p.after! - p.before!) / p.before!) * 100,
  profit_percent: (p) => (Math.abs(p.sale! - p.cost!) / p.cost!) * 100,
  ratio_share: (p) => (p.total! * [p.r1!, p.r2!, p.r3!][p.who!]!) / (p.r1! + p.r2! + p.r3!),
  age_ratio: (p) => p.p! * ((p.years! * (p.P! - p.Q!)) / (p.Q! * p.p! - p.P! * p.q!)),
  age_sum: (p) => (p.sum! - p.diff!) / 2,
  dilution: (p) => (p.volume! * p.c1!) / p.c2! - p.volume!,
  alligation: (p) => (p.volume! * (p.b! - p.c!)) / (p.c! - p.a!),
  simple_interest: (p) =>
    p.principal !== undefined ? (p.principal * p.rate! * p.years!) / 100 : p.amount! / (1 + (p.rate! * p.years!) / 100),
  compound_interest: (p) => Math.round((p.principal! * (1 + p.rate! / 100) ** p.years! - p.principal!) * 100) / 100,
  rectangle: (p) => {
    const w = (p.perimeter! / 2 - p.diff!) / 2
    return w * (w + p.diff!)
  },
  right_triangle: (p) => (p.b !== undefined ? Math.hypot(p.a!, p.b) : (p.a! * Math.sqrt(p.c! ** 2 - p.a! ** 2)) / 2),
  circle: (p) => {
    if (p.area !== undefined) return 2 * (22 / 7) * Math.sqrt((p.area * 7) / 22)
    const r = (p.circumference! * 7) / 44
    return (22 / 7) * r * r
  },
}

describe('arithmetic word problems', () => {
  const problems = generateArithmeticProblems({ seed: 7, count: 1600 })

  it('covers every kind evenly and yields distinct questions', () => {
    expect(problems).toHaveLength(1600)
    expect(new Set(problems.map((p) => p.question)).size).toBe(1600)
    for (const kind of ARITHMETIC_KINDS) expect(problems.filter((p) => p.kind === kind).length, kind).toBe(100)
  })

  it('computes every answer: an independent solver agrees on all problems', () => {
    for (const p of problems) {
      const expected = SOLVE[p.kind]!(p.params)
      // money answers are rounded to the cent (half up, in exact integer arithmetic)
      const tol = p.kind === 'compound_interest' || p.kind === 'discount_tax' ? 0.0100001 : 1e-6
      expect(Math.abs(expected - p.value), `${p.kind}: ${p.question}`).toBeLessThan(tol)
    }
  })

  it('ends every rationale with the formatted answer and states the question quantities', () => {
    for (const p of problems) {
      const last = p.answer.split('\n').pop()!
      expect(last.startsWith('Answer: '), p.answer).toBe(true)
      expect(last, p.question).toContain(formatQuantity(p.value))
      expect(p.answer.split('\n').length, p.answer).toBeGreaterThanOrEqual(2)
    }
    // the rectangle's stated perimeter appears in the question and feeds the solver
    const rect = problems.find((p) => p.kind === 'rectangle') as ArithmeticProblem
    expect(rect.question).toContain(`perimeter is ${rect.params.perimeter} cm`)
  })

  it('is deterministic for a seed and differs across seeds', () => {
    expect(generateArithmeticProblems({ seed: 7, count: 50 })).toEqual(problems.slice(0, 50))
    const other = generateArithmeticProblems({ seed: 8, count: 50 })
    expect(other.map((p) => p.question)).not.toEqual(problems.slice(0, 50).map((p) => p.question))
  })

  it('produces one problem of a requested kind from an Rng', () => {
    const p = generateArithmeticProblem(createRng(1), 'circle')
    expect(p.kind).toBe('circle')
    expect(p.question).toMatch(/^The (circumference|area) of a [a-z ]+ is \d+ m/)
  })

  it('formats quantities like a person', () => {
    expect(formatQuantity(12)).toBe('12')
    expect(formatQuantity(2.5)).toBe('2.5')
    expect(formatQuantity(1 / 3)).toBe('0.33')
    expect(formatQuantity(10.004)).toBe('10')
  })
})
