#!/usr/bin/env python3
"""Independent goldens for pairedStat (packages/metrics/src/paired-stats.ts), the value-add
make_stat of spec pipelines.md §9.5 plus plora's additions. Needs Debian's python3-scipy.
Run: python3 packages/metrics/test/golden/paired-stats.py > packages/metrics/test/golden/paired-stats-python.json
"""
import json
import random

import numpy as np
from scipy import stats


def case(name, baseline, after):
    b = np.array(baseline, dtype=float)
    a = np.array(after, dtype=float)
    d = a - b
    n = len(d)
    w = stats.wilcoxon(d, zero_method="pratt", correction=False, alternative="two-sided", method="auto")
    rng = random.Random(42)  # the original's recipe: 1000 resamples, sorted, indices 25 and 974
    means = []
    dl = [float(x) for x in d]
    for _ in range(1000):
        s = [dl[rng.randrange(n)] for _ in range(n)]
        means.append(sum(s) / n)
    means.sort()
    pos = int((d > 0).sum())
    neg = int((d < 0).sum())
    sign_p = min(1.0, 2 * stats.binom.cdf(min(pos, neg), pos + neg, 0.5)) if pos + neg else 1.0
    ranks = stats.rankdata(np.abs(d))
    r_plus = float(ranks[d > 0].sum())
    r_minus = float(ranks[d < 0].sum())
    sd = float(np.std(d, ddof=1)) if n > 1 else 0.0
    return {
        "name": name,
        "baseline": [float(x) for x in b],
        "after": [float(x) for x in a],
        "delta_mean": sum(dl) / n,
        "wilcoxon_p": float(w.pvalue),
        "ci": [means[25], means[974]],
        "sign_test_p": float(sign_p),
        "n_improved": neg,
        "n_worse": pos,
        "rank_biserial": (r_plus - r_minus) / (r_plus + r_minus),
        "cohens_dz": (sum(dl) / n) / sd if sd > 0 else 0.0,
        "p_at_floor": pos + neg > 0 and (pos == 0 or neg == 0),
    }


g = np.random.default_rng(7)
base8 = [2.0, 2.5, 3.1, 1.7, 2.2, 2.9, 3.3, 1.9]
after8 = [1.8, 2.6, 2.75, 1.2, 2.05, 2.0, 3.25, 1.6]  # distinct |d|, no zeros: exact path, n < 10
base30 = list(np.round(g.normal(3, 0.5, 30), 6))
after30 = list(np.round(np.array(base30) + g.normal(-0.05, 0.2, 30), 6))
base60 = list(np.round(g.normal(3, 0.5, 60), 6))
after60 = list(np.round(np.array(base60) - np.abs(g.normal(0.3, 0.1, 60)), 6))  # all improved: the floor
print(json.dumps([case("n8-exact", base8, after8), case("n30-exact", base30, after30), case("n60-floor", base60, after60)], indent=1))
