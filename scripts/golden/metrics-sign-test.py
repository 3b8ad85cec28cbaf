#!/usr/bin/python3
"""Golden sign-test vectors for @plora/metrics' signTest, from Debian bookworm's scipy 1.10.1
(`scipy.stats.binomtest(n_pos, n_pos + n_neg, 0.5, alternative)`), zeros dropped.

Re-run (after `apt-get install -y python3-scipy python3-numpy`; /usr/bin/python3 is Debian's 3.11):
    /usr/bin/python3 scripts/golden/metrics-sign-test.py > packages/metrics/test/golden/sign-test-scipy.json

n = 0 (empty or all-zero input): scipy raises; the TS answer is p = 1 (core.md §13.8), recorded
here as "p": 1.0 with "scipy_error". "p_floor" is binomtest's p when every non-zero difference
has the favoured sign (all positive for two-sided/greater, all negative for less).
"""
import json
import sys

import numpy as np
import scipy
from scipy.stats import binomtest

cases = []


def add(name, n_pos, n_neg, n_zero):
    n = n_pos + n_neg
    for alt in ("two-sided", "less", "greater"):
        c = {"name": name, "n_pos": n_pos, "n_neg": n_neg, "n_zero": n_zero, "alternative": alt}
        if n == 0:
            c.update({"p": 1.0, "p_floor": 1.0, "scipy_error": "n must be an integer not less than 1"})
        else:
            c["p"] = float(binomtest(n_pos, n, 0.5, alternative=alt).pvalue)
            floor_k = 0 if alt == "less" else n
            c["p_floor"] = float(binomtest(floor_k, n, 0.5, alternative=alt).pvalue)
        cases.append(c)


add("empty", 0, 0, 0)
add("all-zero", 0, 0, 4)
for n in range(1, 13):
    for k in range(0, n + 1):
        add(f"n{n}-k{k}", k, n - k, (n + k) % 3)
for n, ks in ((30, (0, 1, 5, 10, 14, 15, 16, 29, 30)), (51, (0, 3, 20, 25, 26, 40, 51)),
              (200, (0, 1, 60, 90, 100, 101, 150, 200)), (1000, (0, 400, 470, 500, 530, 999)),
              (3000, (0, 1, 1000, 1450, 1500, 2999, 3000))):
    for k in ks:
        add(f"n{n}-k{k}", k, n - k, 0)
# example vector, checked through the d-array path of the test as well
rng = np.random.default_rng(3)
d = np.round(rng.normal(0.2, 1.0, 40), 0)
vec = {"d": [float(v) for v in d], "n_pos": int((d > 0).sum()), "n_neg": int((d < 0).sum()),
       "p": float(binomtest(int((d > 0).sum()), int((d != 0).sum()), 0.5).pvalue)}
head = json.dumps({"generator": "scripts/golden/metrics-sign-test.py", "scipy": scipy.__version__,
                   "numpy": np.__version__, "python": sys.version.split()[0], "executable": sys.executable,
                   "vector": vec}, indent=1)[:-2]
sys.stdout.write(head + ',\n "cases": [\n' + ",\n".join("  " + json.dumps(c) for c in cases) + "\n ]\n}\n")
