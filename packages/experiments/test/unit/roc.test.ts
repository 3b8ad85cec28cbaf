import { describe, expect, it } from 'vitest'
import { rocData, rocFigure } from '../../src/figures/gate.js'
import { renderSvg } from '../../src/figures/render.js'
import {
  aucEstimate,
  averagePrecision,
  averagePrecisionEstimate,
  fprAtRecall,
  rateEstimate,
  rocAuc,
  rocCurve,
  thresholdForFp,
} from '../../src/roc.js'

describe('rocAuc', () => {
  it('is P(pos > neg) + ½ P(tie), counted by hand', () => {
    // pairs: 0.9 beats 4; 0.8 beats 3 and ties 1; 0.4 beats 2 → 9.5 / 12
    expect(rocAuc([0.9, 0.8, 0.4], [0.5, 0.3, 0.2, 0.8])).toBeCloseTo(9.5 / 12, 12)
    expect(rocAuc([3, 4], [1, 2])).toBe(1)
    expect(rocAuc([1, 2], [3, 4])).toBe(0)
    expect(rocAuc([1, 1], [1, 1, 1])).toBe(0.5)
    expect(rocAuc([], [1])).toBeNaN()
  })

  it('equals the area under rocCurve (trapezoids)', () => {
    const pos = [0.9, 0.8, 0.4, 0.7, 0.7]
    const neg = [0.5, 0.3, 0.2, 0.8, 0.7, 0.1]
    const pts = rocCurve(pos, neg)
    let area = 0
    for (let i = 1; i < pts.length; i++) area += ((pts[i]!.fpr - pts[i - 1]!.fpr) * (pts[i]!.tpr + pts[i - 1]!.tpr)) / 2
    expect(area).toBeCloseTo(rocAuc(pos, neg), 12)
    expect(pts[0]).toMatchObject({ tpr: 0, fpr: 0 })
    expect(pts.at(-1)).toMatchObject({ tpr: 1, fpr: 1 })
  })
})

describe('bootstrap estimates', () => {
  it('brackets the estimate, is seeded, and narrows with more data', () => {
    const pos = Array.from({ length: 20 }, (_, i) => 1 + i * 0.1)
    const neg = Array.from({ length: 20 }, (_, i) => 0.5 + i * 0.1)
    const a = aucEstimate(pos, neg, { nResamples: 500, seed: 3 })
    expect(a.lo).toBeLessThanOrEqual(a.value)
    expect(a.hi).toBeGreaterThanOrEqual(a.value)
    expect(aucEstimate(pos, neg, { nResamples: 500, seed: 3 })).toEqual(a)
    const small = rateEstimate([true, false, false, false], { nResamples: 500, seed: 1 })
    const big = rateEstimate(
      Array.from({ length: 400 }, (_, i) => i % 4 === 0),
      { nResamples: 500, seed: 1 },
    )
    expect(small.value).toBe(0.25)
    expect(big.value).toBe(0.25)
    expect(big.hi - big.lo).toBeLessThan(small.hi - small.lo)
    expect(rateEstimate([]).value).toBeNaN()
  })

  it('gives rates exact Clopper–Pearson intervals (scipy binomtest goldens), never [0, 0] at 0 of n', () => {
    // scipy.stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    const goldens: Array<[number, number, number, number]> = [
      [0, 20, 0.0, 0.16843347098308548],
      [3, 20, 0.03207093718554477, 0.37892682654529564],
      [20, 20, 0.8315665290169145, 1.0],
      [1, 4, 0.006309463209709889, 0.8058795503167566],
      [100, 400, 0.2083015066819634, 0.29544171863531676],
    ]
    for (const [k, n, lo, hi] of goldens) {
      const e = rateEstimate(Array.from({ length: n }, (_, i) => i < k))
      expect(e.value).toBe(k / n)
      expect(e.lo).toBeCloseTo(lo, 9)
      expect(e.hi).toBeCloseTo(hi, 9)
    }
  })
})

describe('Trojan Detection Challenge metrics', () => {
  it('average precision, by hand (scikit-learn average_precision_score values)', () => {
    // ranked: 0.9 (+) P=1 R=½, 0.8 (−), 0.4 (+) P=⅔ R=1 → ½·1 + ½·⅔
    expect(averagePrecision([0.9, 0.4], [0.8, 0.1])).toBeCloseTo(0.5 + 1 / 3, 14)
    // a tie of one positive and one negative at the top enters together: P = ½ there
    // 0.7: (+,−) P=½ R=⅓; 0.5: (+) P=⅔ R=⅔; 0.2: (+) P=¾ R=1 → (½ + ⅔ + ¾)/3
    expect(averagePrecision([0.7, 0.5, 0.2], [0.7, 0.1])).toBeCloseTo((0.5 + 2 / 3 + 0.75) / 3, 14)
    expect(averagePrecision([3, 4], [1, 2])).toBe(1)
    // all negatives above all positives: P = 1/3, 2/4 at recall ½, 1 → (⅓ + ½)/2
    expect(averagePrecision([1, 2], [3, 4])).toBeCloseTo((1 / 3 + 1 / 2) / 2, 14)
    expect(averagePrecision([], [1])).toBeNaN()
    const e = averagePrecisionEstimate([0.9, 0.8, 0.4, 0.7], [0.5, 0.3, 0.2, 0.8, 0.6], { nResamples: 300, seed: 2 })
    expect(e.lo).toBeLessThanOrEqual(e.value)
    expect(e.hi).toBeGreaterThanOrEqual(e.value)
    expect(e).toEqual(
      averagePrecisionEstimate([0.9, 0.8, 0.4, 0.7], [0.5, 0.3, 0.2, 0.8, 0.6], { nResamples: 300, seed: 2 }),
    )
  })

  it('FPR at 95 % recall: the ⌈0.95·n⁺⌉-th largest positive score, negatives at or above it', () => {
    // 20 positives 1..20: ⌈19⌉ = 19th largest = 2; negatives ≥ 2: {2, 3, 5} of 6
    const pos = Array.from({ length: 20 }, (_, i) => i + 1)
    const r = fprAtRecall(pos, [0, 1, 2, 3, 5, 1.5])
    expect(r.threshold).toBe(2)
    expect(r.tpr).toBe(19 / 20)
    expect(r.fpr.value).toBe(3 / 6)
    expect(r.fpr).toEqual(rateEstimate([false, false, true, true, true, false]))
    // 4 positives: ⌈3.8⌉ = 4, all of them (the smallest positive score)
    expect(fprAtRecall([5, 6, 7, 8], [4.9, 5, 9]).threshold).toBe(5)
    expect(fprAtRecall([5, 6, 7, 8], [4.9, 5, 9]).fpr.value).toBeCloseTo(2 / 3, 14)
    // perfectly separated: FPR 0 with the exact interval [0, 1 − 0.025^(1/n)]
    const sep = fprAtRecall([10, 11], [1, 2, 3])
    expect(sep.fpr.value).toBe(0)
    expect(sep.fpr.hi).toBeCloseTo(1 - 0.025 ** (1 / 3), 6)
    expect(fprAtRecall([], [1]).threshold).toBeNaN()
  })
})

describe('thresholdForFp', () => {
  const neg = Array.from({ length: 20 }, (_, i) => i)
  it('takes the empirical quantile, or the Gaussian tail when that is larger', () => {
    // one of 20 may exceed at 5 %: the threshold is the 19th smallest value
    expect(thresholdForFp(neg, 0.05, 0)).toBe(18)
    const sd = Math.sqrt(neg.reduce((a, x) => a + (x - 9.5) ** 2, 0) / 19)
    expect(thresholdForFp(neg, 0.05, 2)).toBeCloseTo(9.5 + 2 * sd, 12)
    expect(thresholdForFp([2, 2, 2], 0.01, 3)).toBe(2)
  })
  it('rejects empty scores and rates outside (0, 1)', () => {
    expect(() => thresholdForFp([], 0.05, 2)).toThrow(/EXPERIMENTS|clean scores/)
    expect(() => thresholdForFp([1], 0, 2)).toThrowError(expect.objectContaining({ code: 'EXPERIMENTS_INPUT_INVALID' }))
  })
})

describe('rocFigure', () => {
  it("is given each curve's ROC points in threshold order, the operating points and AUC labels", () => {
    const points = rocCurve([0.9, 0.8, 0.4], [0.5, 0.3, 0.2, 0.8])
    const series = [
      {
        name: 'mahalanobis',
        points,
        auc: rocAuc([0.9, 0.8, 0.4], [0.5, 0.3, 0.2, 0.8]),
        operating: { fpr: 0, tpr: 1 / 3 },
      },
      { name: 'a<b', points: rocCurve([1], [0]), auc: Number.NaN },
    ]
    const d = rocData(series)
    const first = d.curves.filter((c) => c.detector === 'mahalanobis (AUC 0.792)')
    expect(first.map((c) => c.order)).toEqual(first.map((_, i) => i))
    expect(first[0]).toMatchObject({ fpr: 0, tpr: 0 })
    expect(first.at(-1)).toMatchObject({ fpr: 1, tpr: 1 })
    // score > 0.8 flags 0.9 only (the tied 0.8s stay below); score > 0.5 flags 0.9, 0.8 and the clean 0.8
    expect(first.map((c) => [c.fpr, c.tpr])).toContainEqual([0, 1 / 3])
    expect(first.map((c) => [c.fpr, c.tpr])).toContainEqual([0.25, 2 / 3])
    expect(d.curves.some((c) => c.detector === 'a<b (AUC n/a)')).toBe(true)
    expect(d.operating).toEqual([{ detector: 'mahalanobis (AUC 0.792)', fpr: 0, tpr: 1 / 3 }])
    const f = rocFigure(series, { title: 'T & U', subtitle: 's' })
    expect(f.placeholder).toBe(false)
    expect((f.spec as { datasets: Record<string, unknown> }).datasets.curves).toEqual(d.curves)
  })
  it('renders to an SVG with the legend labels escaped', async () => {
    const f = rocFigure([{ name: 'a<b', points: rocCurve([1, 0.2], [0, 0.5]), auc: 0.75 }], { title: 'T & U' })
    const svg = await renderSvg(f.spec)
    expect(svg.startsWith('<svg')).toBe(true)
    expect(svg).toContain('a&lt;b (AUC 0.750)')
    expect(svg).toContain('T &amp; U')
  })
  it('is a labelled placeholder without curves', () => {
    const f = rocFigure([], { title: 'T' })
    expect(f.placeholder).toBe(true)
    expect(f.name).toBe('gate_roc')
  })
})
