#!/usr/bin/env python3
"""Golden values for @plora/metrics' bootstrapCiMean / pairedBootstrapCi: the original's
`bootstrap_ci_mean` algorithm (swarm.md §11.4) on CPython's random.Random, drawing indices with
`rng.randrange(n)` (the same stream as `rng.choice`, which reproduces the original's stored
(1.8, 4.2) / (2.6, 3.4) test values). Pure standard library; re-run with:
    python3 scripts/golden/metrics-bootstrap.py > packages/metrics/test/golden/bootstrap-python.json
"""
import json
import random
import sys


def ci_mean(values, n_resamples=1000, ci=0.95, seed=42):
    if not values:
        return (0.0, 0.0)
    rng = random.Random(seed)
    n = len(values)
    means = []
    for _ in range(n_resamples):
        s = [values[rng.randrange(n)] for _ in range(n)]
        means.append(sum(s) / n)
    means.sort()
    lo = means[int(((1 - ci) / 2) * n_resamples)]
    hi = means[int((1 - (1 - ci) / 2) * n_resamples) - 1]
    return (lo, hi)


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
json.dump({"generator": "scripts/golden/metrics-bootstrap.py", "python": sys.version.split()[0], "cases": cases},
          sys.stdout, indent=1)
sys.stdout.write("\n")
