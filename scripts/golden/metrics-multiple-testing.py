#!/usr/bin/python3
"""Golden Holm and Benjamini-Hochberg vectors for @plora/metrics' holm / benjaminiHochberg, from
Debian bookworm's statsmodels (`statsmodels.stats.multitest.multipletests(p, alpha, method=
'holm' | 'fdr_bh')`): adjusted p-values and reject flags, plus the threshold the TS API reports
(the largest rejected p, 0 when none).

Re-run (after `apt-get install -y python3-statsmodels python3-numpy`; Debian's /usr/bin/python3):
    /usr/bin/python3 scripts/golden/metrics-multiple-testing.py > packages/metrics/test/golden/multiple-testing-statsmodels.json

Covers ties in p, p = 0, p = 1, unsorted input, m = 1, p exactly on the step boundaries
alpha*r/m and alpha/(m-r+1), and several alpha levels. (m = 0 makes statsmodels divide by zero; the TS
functions return empty results, tested separately.)
"""
import json
import sys

import numpy as np
import statsmodels
from statsmodels.stats.multitest import multipletests

vectors = []


def vec(name, p):
    vectors.append((name, [float(v) for v in p]))


rng = np.random.default_rng(1979)
vec("m1-small", [0.01])
vec("m1-large", [0.3])
vec("m1-zero", [0.0])
vec("m1-one", [1.0])
vec("original-bh", [0.01, 0.04, 0.03, 0.5])
vec("none", [0.2, 0.3])
vec("step-up", [0.02, 0.03, 0.035, 0.04])
vec("holm-stop", [0.001, 0.011, 0.02, 0.04, 0.3])
vec("ties", [0.01, 0.01, 0.01, 0.04, 0.04, 0.2])
vec("ties-unsorted", [0.04, 0.01, 0.2, 0.01, 0.04, 0.01])
vec("zeros-ones", [0.0, 1.0, 0.0, 0.5, 1.0, 0.001])
vec("all-zero", [0.0] * 5)
vec("all-one", [1.0] * 4)
vec("bh-boundary", [0.0125, 0.025, 0.0375, 0.05])  # p(r) = alpha*r/m exactly (alpha 0.05)
vec("bh-boundary-3", [0.05 / 3, 0.1 / 3, 0.05])
vec("holm-boundary", [0.05 / 4, 0.05 / 3, 0.025, 0.05])  # p(r) = alpha/(m-r+1)
vec("holm-boundary-7", [0.05 / 7, 0.05 / 6, 0.01, 0.05 / 4, 0.05 / 3, 0.025, 0.05])
vec("descending", [0.9, 0.5, 0.04, 0.03, 0.02, 0.01, 0.001])
vec("floor-values", [2.0488044371533106e-43, 4.0561928102046334e-169, 2.3273873786682067e-88, 0.3, 0.7])
vec("tiny", [1e-300, 5e-324, 1e-10, 0.049])
for m in (2, 3, 5, 8, 13, 30, 100):
    vec(f"uniform-m{m}", rng.uniform(0, 1, m))
    vec(f"mixed-m{m}", np.where(rng.random(m) < 0.4, rng.uniform(0, 0.01, m), rng.uniform(0, 1, m)))
    vec(f"rounded-m{m}", np.round(rng.uniform(0, 0.1, m), 2))  # many ties

cases = []
for name, p in vectors:
    for alpha in (0.05, 0.1, 0.01):
        for method in ("holm", "fdr_bh"):
            reject, adj, _, _ = multipletests(p, alpha=alpha, method=method)
            rej_p = [pv for pv, r in zip(p, reject) if r]
            cases.append({"name": name, "p": p, "alpha": alpha, "method": method,
                          "reject": [bool(r) for r in reject], "adjusted": [float(v) for v in adj],
                          "threshold": max(rej_p) if rej_p else 0.0})

head = json.dumps({"generator": "scripts/golden/metrics-multiple-testing.py",
                   "statsmodels": statsmodels.__version__, "numpy": np.__version__,
                   "python": sys.version.split()[0], "executable": sys.executable}, indent=1)[:-2]
sys.stdout.write(head + ',\n "cases": [\n' + ",\n".join("  " + json.dumps(c) for c in cases) + "\n ]\n}\n")
