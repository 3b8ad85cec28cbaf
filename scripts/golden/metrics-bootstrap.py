#!/usr/bin/python3
"""Golden values for @plora/metrics' bootstrapCiMean / bootstrapCi / pairedBootstrapCi.

The resampling recipe is the original's (core.md §13.9/§14, pipelines.md §9.5): CPython's
`random.Random(seed)` (MT19937 seeded by init_by_array over the 32-bit words of |seed|), n indices
per resample drawn with `rng.randrange(n)` (the same stream as `rng.choice`, which reproduces the
original's stored (1.8, 4.2) / (2.6, 3.4) test values), the mean as `sum(s) / n`, the sorted
replicate means indexed at int(((1-ci)/2)*R) and int((1-(1-ci)/2)*R) - 1. The paired CI applies
this to d_i = y_i - x_i. BCa cases re-implement the documented BCa recipe of bootstrap.ts in
Python on the same replicates with scipy's norm.ppf / norm.cdf (z0 from the share of replicates
below the estimate, ties counting half; jackknife acceleration; the same index rule).

Re-run with Debian's Python (standard library for the percentile cases; scipy for BCa):
    /usr/bin/python3 scripts/golden/metrics-bootstrap.py > packages/metrics/test/golden/bootstrap-python.json
"""
import json
import math
import random
import sys

import scipy
from scipy.stats import norm


def pick(sorted_reps, q, upper):
    R = len(sorted_reps)
    idx = int(math.floor(q * R)) - (1 if upper else 0)
    return sorted_reps[min(R - 1, max(0, idx))]


def replicates(values, n_resamples, seed):
    rng = random.Random(seed)
    n = len(values)
    means = []
    for _ in range(n_resamples):
        s = [values[rng.randrange(n)] for _ in range(n)]
        means.append(sum(s) / n)
    means.sort()
    return means


def ci_mean(values, n_resamples=1000, ci=0.95, seed=42):
    """The original's bootstrap_ci_mean, verbatim index rule."""
    if not values:
        return (0.0, 0.0)
    means = replicates(values, n_resamples, seed)
    lo = means[int(((1 - ci) / 2) * n_resamples)]
    hi = means[int((1 - (1 - ci) / 2) * n_resamples) - 1]
    return (lo, hi)


def bca(values, n_resamples=1000, ci=0.95, seed=42):
    n = len(values)
    est = sum(values) / n
    reps = replicates(values, n_resamples, seed)
    below = sum(1 for r in reps if r < est)
    equal = sum(1 for r in reps if r == est)
    share = (below + 0.5 * equal) / n_resamples
    z0 = float(norm.ppf(min(1 - 1e-12, max(1e-12, share))))
    jack = []
    for i in range(n):
        loo = values[:i] + values[i + 1:]
        jack.append(sum(loo) / len(loo) if n > 1 else est)
    jm = sum(jack) / n
    num = sum((jm - v) ** 3 for v in jack)
    den = sum((jm - v) ** 2 for v in jack)
    a = num / (6 * den ** 1.5) if den > 0 else 0.0

    def adjust(alpha):
        z = float(norm.ppf(alpha))
        return float(norm.cdf(z0 + (z0 + z) / (1 - a * (z0 + z))))

    tail = (1 - ci) / 2
    return (pick(reps, adjust(tail), False), pick(reps, adjust(1 - tail), True), est)


g = random.Random(7)
cases = []
for name, values, kw in [
    ("one-to-five", [1, 2, 3, 4, 5], dict(n_resamples=500, seed=0)),
    ("one-to-five-x10", [1, 2, 3, 4, 5] * 10, dict(n_resamples=500, seed=0)),
    ("gauss-40-default", [g.gauss(0.3, 1.0) for _ in range(40)], {}),
    ("gauss-25-ci90", [g.gauss(-1.0, 2.0) for _ in range(25)], dict(n_resamples=777, ci=0.9, seed=123)),
]:
    lo, hi = ci_mean(values, **kw)
    cases.append({"name": name, "values": values, "options": kw, "lo": lo, "hi": hi})

# paired cases: d = y - x, the value-add runner's call (R = 1000, ci = 0.95, seed = 42) and variations
h = random.Random(16)
paired = []


def add_paired(name, xs, ys, **kw):
    d = [y - x for x, y in zip(xs, ys)]
    lo, hi = ci_mean(d, **kw)
    paired.append({"name": name, "xs": xs, "ys": ys, "options": kw, "lo": lo, "hi": hi,
                   "estimate": sum(d) / len(d)})


for n in (1, 2, 3, 5, 9):
    xs = [h.gauss(2.0, 0.5) for _ in range(n)]
    add_paired(f"nll-n{n}", xs, [x + h.gauss(-0.1, 0.2) for x in xs])
xs = [h.gauss(2.0, 0.5) for _ in range(254)]
add_paired("nll-n254-all-improved", xs, [x - abs(h.gauss(0.7, 0.1)) for x in xs])
xs = [h.gauss(2.0, 0.5) for _ in range(100)]
add_paired("nll-n100-ties-zeros", xs, [x + h.choice([-0.5, 0.0, 0.0, 0.25]) for x in xs])
xs = [float(h.randrange(5)) for _ in range(30)]
add_paired("integers-n30", xs, [x + h.randrange(-2, 3) for x in xs])
add_paired("constant-shift-n20", [float(i) for i in range(20)], [i - 0.5 for i in range(20)])
xs = [h.gauss(0, 1e9) for _ in range(40)]
add_paired("large-magnitude-n40", xs, [x + h.gauss(1e6, 1e7) for x in xs])
xs = [h.gauss(3.0, 1.0) for _ in range(60)]
ys = [x + h.gauss(-0.05, 0.3) for x in xs]
for kw in (dict(n_resamples=1), dict(n_resamples=2), dict(n_resamples=500), dict(n_resamples=999, ci=0.9),
           dict(ci=0.99), dict(ci=0.5), dict(ci=0.9), dict(seed=0), dict(seed=1), dict(seed=123456789),
           dict(seed=2 ** 32 + 5), dict(seed=2 ** 40), dict(seed=-42)):
    add_paired("n60-" + "-".join(f"{k}{v}" for k, v in kw.items()), xs, ys, **kw)

bcas = []
for name, values, kw in [
    ("bca-gauss-40", [g.gauss(0.3, 1.0) for _ in range(40)], {}),
    ("bca-lognormal-25", [math.exp(g.gauss(0, 1.2)) for _ in range(25)], dict(seed=1)),
    ("bca-exp-30-ci90", [-math.log(1 - g.random()) for _ in range(30)], dict(n_resamples=400, ci=0.9, seed=3)),
    ("bca-ties-20", [float(g.randrange(4)) for _ in range(20)], dict(n_resamples=500, seed=9)),
]:
    lo, hi, est = bca(values, **kw)
    bcas.append({"name": name, "values": values, "options": kw, "lo": lo, "hi": hi, "estimate": est})

head = json.dumps({"generator": "scripts/golden/metrics-bootstrap.py", "python": sys.version.split()[0],
                   "executable": sys.executable, "scipy": scipy.__version__,
                   "rng": "CPython random.Random(seed), rng.randrange(n) per index"}, indent=1)[:-2]
body = ""
for key, rows in (("cases", cases), ("paired", paired), ("bca", bcas)):
    body += f',\n "{key}": [\n' + ",\n".join("  " + json.dumps(c) for c in rows) + "\n ]"
sys.stdout.write(head + body + "\n}\n")
