#!/usr/bin/python3
"""Golden paired effect sizes for @plora/metrics' effect-size.ts, computed directly in numpy/scipy.

* Matched-pairs rank-biserial correlation (Kerby 2014, "simple difference formula"):
  r = (R+ - R-) / (sum of all ranks), ranks of |d| with average ranks for ties.
  zero_method "wilcox": zeros dropped before ranking (so the denominator is R+ + R-);
  "pratt": zeros ranked with the rest and counted in the denominator but in neither sum.
  Cross-checked here against scipy.stats.wilcoxon's one-sided statistic (R+) where scipy allows.
* Cohen's d_z: mean(d) / std(d, ddof=1).
Non-finite results are written as the strings "NaN", "Infinity", "-Infinity" (JSON has no NaN).

Re-run (after `apt-get install -y python3-scipy python3-numpy`; Debian's /usr/bin/python3):
    /usr/bin/python3 scripts/golden/metrics-effect-size.py > packages/metrics/test/golden/effect-size-numpy.json
"""
import json
import sys
import warnings

import numpy as np
import scipy
from scipy.stats import rankdata, wilcoxon

warnings.simplefilter("ignore")


def enc(x):
    x = float(x)
    if np.isnan(x):
        return "NaN"
    if np.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def rank_biserial(d, zero_method):
    d = np.asarray(d, dtype=float)
    if zero_method == "wilcox":
        d = d[d != 0]
    if d.size == 0:
        return float("nan")
    r = rankdata(np.abs(d))
    total = r.sum()
    return (r[d > 0].sum() - r[d < 0].sum()) / total


def d_z(d):
    d = np.asarray(d, dtype=float)
    if d.size < 2:
        return float("nan")
    with np.errstate(all="ignore"):
        return np.float64(d.mean()) / np.float64(d.std(ddof=1))


g = np.random.default_rng(2014)
datasets = []


def ds(name, d):
    datasets.append((name, [float(v) for v in d]))


ds("empty", [])
ds("single", [0.4])
ds("single-zero", [0.0])
ds("all-zero", [0.0] * 6)
ds("constant", [-0.25] * 8)
ds("two", [1.0, -3.0])
for n in range(3, 10):
    ds(f"rand-n{n}", np.round(g.normal(-0.2, 1.0, n), 4))
    ds(f"ties-zeros-n{n}", g.integers(-2, 3, n).astype(float))
ds("all-negative-n30", -g.uniform(0.1, 1.0, 30))
ds("all-positive-ties-n12", g.integers(1, 3, 12).astype(float))
ds("one-zero-rest-negative-n10", np.r_[0.0, -g.uniform(0.1, 1.0, 9)])
ds("nll-n254", g.normal(-0.7, 0.1, 254))
ds("nll-mixed-n200", g.normal(-0.02, 0.05, 200))
ds("ties-zeros-n200", g.integers(-3, 4, 200).astype(float))
ds("large-n50", g.normal(3e11, 1e12, 50))
ds("tiny-n50", g.normal(1e-13, 1e-12, 50))
ds("offset-n40", 1e8 + g.normal(0, 1e-3, 40))  # large mean, small spread: d_z huge

cases = []
for name, d in datasets:
    arr = np.asarray(d)
    c = {"name": name, "d": d, "cohens_dz": enc(d_z(d))}
    for zm in ("wilcox", "pratt"):
        rb = rank_biserial(d, zm)
        c[f"rank_biserial_{zm}"] = enc(rb)
        # independent cross-check through scipy's R+ (alternative="greater" returns R+)
        nz = arr[arr != 0] if zm == "wilcox" else arr
        if nz.size > 0 and np.any(arr != 0):
            rplus = float(wilcoxon(arr, zero_method=zm, alternative="greater", method="approx").statistic)
            total = nz.size * (nz.size + 1) / 2
            r0 = rankdata(np.abs(nz))[nz == 0].sum() if zm == "pratt" else 0.0
            rminus = total - rplus - r0
            assert abs((rplus - rminus) / total - rb) < 1e-12, (name, zm)
    cases.append(c)

head = json.dumps({"generator": "scripts/golden/metrics-effect-size.py", "scipy": scipy.__version__,
                   "numpy": np.__version__, "python": sys.version.split()[0], "executable": sys.executable},
                  indent=1)[:-2]
sys.stdout.write(head + ',\n "cases": [\n' + ",\n".join("  " + json.dumps(c) for c in cases) + "\n ]\n}\n")
