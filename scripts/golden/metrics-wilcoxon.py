#!/usr/bin/python3
"""Golden Wilcoxon signed-rank vectors for @plora/metrics, produced by Debian bookworm's scipy.

Re-run (needs `apt-get install -y python3-scipy`, which is scipy 1.10.1; run with /usr/bin/python3
so that a pip-installed scipy elsewhere is not picked up):
    /usr/bin/python3 scripts/golden/metrics-wilcoxon.py > packages/metrics/test/golden/wilcoxon-scipy.json
"""
import json
import sys
import warnings

import numpy as np
import scipy
from scipy.stats import wilcoxon

warnings.simplefilter("ignore")

cases = []


def add(name, d, **kw):
    d = [float(v) for v in d]
    res = wilcoxon(d, **kw)
    cases.append({
        "name": name,
        "d": d,
        "options": kw,
        "statistic": float(res.statistic),
        "pvalue": float(res.pvalue),
    })


rng = np.random.default_rng(20261123)
# Spec reference values (core.md §13.8)
add("spec-30-minus-ones-pratt", [-1.0] * 30, zero_method="pratt")
add("spec-40-equal-pratt", [0.5] * 40, zero_method="pratt")
add("spec-alternating-50-pratt", [0.01 if i % 2 == 0 else -0.01 for i in range(50)], zero_method="pratt")
add("spec-ten-pratt", [1, 2, 3, -4, 5, 6, 7, 8, -9, 10], zero_method="pratt")
add("single-positive", [2.5])
add("single-negative", [-2.5])
for n in (5, 13, 20, 50):  # exact, no ties
    d = rng.normal(0.3, 1.0, n)
    for alt in ("two-sided", "less", "greater"):
        add(f"exact-n{n}-{alt}", d, alternative=alt)
for n in (51, 80, 200):  # approx (n > 50), no ties
    d = rng.normal(0.2, 1.0, n)
    add(f"approx-n{n}", d)
    add(f"approx-n{n}-correction", d, correction=True)
    add(f"approx-n{n}-greater", d, alternative="greater")
for n in (12, 30, 50):  # ties without zeros -> exact with truncated R+ (scipy 1.10)
    d = rng.integers(-4, 6, n).astype(float)
    d[d == 0] = 1.0
    add(f"ties-exact-n{n}", d)
for n in (60, 150):  # ties without zeros, approx with tie correction
    d = rng.integers(-4, 6, n).astype(float)
    d[d == 0] = 2.0
    add(f"ties-approx-n{n}", d)
    add(f"ties-approx-n{n}-less", d, alternative="less")
for n in (10, 25, 50, 51, 120):  # zeros (and ties) -> approx, three zero methods
    d = np.round(rng.normal(0.4, 1.5, n), 1)
    d[: max(2, n // 8)] = 0.0
    rng.shuffle(d)
    for zm in ("wilcox", "pratt", "zsplit"):
        add(f"zeros-n{n}-{zm}", d, zero_method=zm)
    add(f"zeros-n{n}-pratt-correction", d, zero_method="pratt", correction=True)
# forced methods
d = rng.normal(0.5, 1.0, 30)
add("forced-approx-n30", d, mode="approx")
d = rng.normal(0.1, 1.0, 60)
add("forced-exact-n60", d, mode="exact")
# deltas like per-example NLL differences (floating, tiny effects)
d = rng.normal(-0.02, 0.05, 300)
add("nll-deltas-n300-pratt", d, zero_method="pratt")

json.dump({
    "generator": "scripts/golden/metrics-wilcoxon.py",
    "scipy": scipy.__version__,
    "numpy": np.__version__,
    "python": sys.version.split()[0],
    "cases": cases,
}, sys.stdout, indent=1)
sys.stdout.write("\n")
