#!/usr/bin/python3
"""Golden Wilcoxon signed-rank vectors for @plora/metrics, produced by Debian bookworm's scipy.

Re-run (needs `apt-get install -y python3-scipy python3-numpy`, which is scipy 1.10.1 / numpy
1.24.2; run with /usr/bin/python3 so that a pip- or pyenv-installed scipy elsewhere is not picked up):
    /usr/bin/python3 scripts/golden/metrics-wilcoxon.py > packages/metrics/test/golden/wilcoxon-scipy.json

Two sections:
* "cases": hand-picked vectors (spec reference values, exact/approx, ties, zeros).
* "grid": datasets (n = 1..9, ties, zeros, all-equal, all one sign, n around the exact/approx
  switch at 50, n = 200, large and tiny magnitudes) x zero_method {wilcox, pratt, zsplit} x
  alternative {two-sided, less, greater} x correction {False, True} x method {auto, exact, approx}.
  Each grid case also carries the p-value "floor": scipy's p-value on the same |d| with every
  non-zero difference given the sign the alternative favours (the smallest p attainable for this
  n, zero count and tie pattern), and "at_floor": whether the observed signs are already that
  extreme (there is a non-zero difference and all non-zero differences have one sign - the
  favoured one for a one-sided test). scipy raises for zero_method wilcox/pratt on all-zero
  input in the approximate branch; such cases are recorded with "error".
* "permutation": the TS-only exact sign-flip method on tied/zero data (n <= 12), from scipy's
  permutation_test.
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
add("forced-approx-n30", d, method="approx")
d = rng.normal(0.1, 1.0, 60)
add("forced-exact-n60", d, method="exact")
# deltas like per-example NLL differences (floating, tiny effects)
d = rng.normal(-0.02, 0.05, 300)
add("nll-deltas-n300-pratt", d, zero_method="pratt")
# the spec's stored floor p-values (pipelines.md §9.5): every example improved, n = 254 / 529 / 1024
for n in (254, 529, 1024):
    d = -np.sort(rng.uniform(0.01, 1.0, n))
    add(f"floor-all-negative-n{n}-pratt", d, zero_method="pratt")

# ---------------------------------------------------------------------------------------------
# grid
g = np.random.default_rng(16)
datasets = []


def ds(name, d):
    datasets.append({"name": name, "d": [float(v) for v in d]})


for n in range(1, 10):
    ds(f"rand-n{n}", np.round(g.normal(0.3, 1.0, n), 6))
    ds(f"neg-n{n}", -np.round(g.uniform(0.1, 2.0, n), 6))  # all one sign, distinct
    if n >= 2:
        t = g.integers(1, 3, n).astype(float) * g.choice([-1.0, 1.0], n)  # |d| in {1, 2}: ties
        ds(f"ties-n{n}", t)
        z = g.integers(-2, 3, n).astype(float)
        z[0] = 0.0
        if np.all(z == 0):
            z[-1] = 1.0
        g.shuffle(z)
        ds(f"zeros-n{n}", z)  # zeros and ties
        zn = -np.abs(g.integers(1, 4, n).astype(float))
        zn[g.integers(0, n)] = 0.0
        ds(f"neg-zeros-n{n}", zn)  # all non-zero negative, one zero
    ds(f"equal-n{n}", [0.75] * n)
for n in (49, 50, 51):
    ds(f"rand-n{n}", g.normal(0.25, 1.0, n))
    ds(f"ties-n{n}", g.integers(-3, 5, n).astype(float) + 0.5)  # ties, no zeros
    ds(f"neg-n{n}", -g.uniform(0.01, 1.0, n))
    z = np.round(g.normal(0.2, 1.0, n), 1)
    z[:5] = 0.0
    g.shuffle(z)
    ds(f"zeros-n{n}", z)
ds("rand-n200", g.normal(0.1, 1.0, 200))
ds("ties-zeros-n200", g.integers(-3, 4, 200).astype(float))
ds("neg-n200", -g.uniform(0.01, 1.0, 200))
ds("pos-ties-n200", g.integers(1, 4, 200).astype(float))
ds("equal-n60", [-2.0] * 60)
ds("zero-n5", [0.0] * 5)
ds("zero-n60", [0.0] * 60)
ds("one-nonzero-n6", [0.0, 0.0, 3.0, 0.0, 0.0, 0.0])
ds("huge-n30", g.normal(1e11, 1e12, 30))
ds("huge-n80", g.normal(-1e11, 1e12, 80))
ds("tiny-n40", g.normal(1e-13, 1e-12, 40))
ds("mixed-scale-n45", g.normal(0.2, 1.0, 45) * 10.0 ** g.integers(-12, 13, 45))
ds("mixed-scale-zeros-n70", np.where(g.random(70) < 0.1, 0.0, g.normal(0.2, 1.0, 70) * 10.0 ** g.integers(-9, 10, 70)))

ZM = ("wilcox", "pratt", "zsplit")
ALT = ("two-sided", "less", "greater")
grid = []


def run(d, **kw):
    try:
        r = wilcoxon(d, **kw)
        return float(r.statistic), float(r.pvalue), (float(r.zstatistic) if hasattr(r, "zstatistic") else None)
    except ValueError as e:
        return None, None, str(e)


for i, dset in enumerate(datasets):
    d = np.asarray(dset["d"])
    nz = d[d != 0]
    for zm in ZM:
        for alt in ALT:
            for corr in (False, True):
                for method in ("auto", "exact", "approx"):
                    if method == "exact" and len(d) > 300:
                        continue
                    kw = dict(zero_method=zm, alternative=alt, correction=corr, method=method)
                    stat, p, z = run(d, **kw)
                    aligned = -np.abs(d) if alt == "less" else np.abs(d)
                    _, pf, _ = run(aligned, **kw)
                    if alt == "less":
                        at_floor = bool(nz.size > 0 and np.all(nz < 0))
                    elif alt == "greater":
                        at_floor = bool(nz.size > 0 and np.all(nz > 0))
                    else:
                        at_floor = bool(nz.size > 0 and (np.all(nz < 0) or np.all(nz > 0)))
                    case = {"dataset": i, "zero_method": zm, "alternative": alt, "correction": corr,
                            "method": method}
                    if stat is None:
                        case["error"] = z
                    else:
                        case.update({"statistic": stat, "pvalue": p, "p_floor": pf, "at_floor": at_floor})
                        if z is not None:
                            case["z"] = z
                    grid.append(case)

# ---------------------------------------------------------------------------------------------
# method "permutation" (TS only; scipy 1.10's wilcoxon has no such method): the exact sign-flip
# test of R+ from scipy.stats.permutation_test(permutation_type="samples", n_resamples=inf), an
# independent enumeration; zeros dropped first for "wilcox", kept (sign-less) for "pratt",
# half their ranks added to R+ for "zsplit".
from scipy.stats import permutation_test, rankdata  # noqa: E402

perm_datasets = []
perm = []
p_rng = np.random.default_rng(13)
for n in range(1, 13):
    perm_datasets.append({"name": f"perm-ties-zeros-n{n}", "d": [float(v) for v in p_rng.integers(-3, 4, n)]})
    perm_datasets.append({"name": f"perm-halves-n{n}", "d": [float(v) for v in np.round(p_rng.normal(0.5, 1.0, n) * 2) / 2]})
perm_datasets.append({"name": "perm-one-way-ties-n10", "d": [-1.0, -1.0, -2.0, -2.0, -2.0, -3.0, 0.0, -1.5, -1.0, -0.5]})
perm_datasets.append({"name": "perm-spec-ten", "d": [1.0, 2.0, 3.0, -4.0, 5.0, 6.0, 7.0, 8.0, -9.0, 10.0]})
for i, dset in enumerate(perm_datasets):
    d0 = np.asarray(dset["d"])
    for zm in ZM:
        d = d0[d0 != 0] if zm == "wilcox" else d0
        if d.size < 2 or np.all(d == 0):  # permutation_test needs two observations
            continue

        def stat(x, axis=-1, zm=zm):
            r = rankdata(np.abs(x), axis=-1)
            s = np.sum(r * (x > 0), axis=-1)
            if zm == "zsplit":
                s = s + np.sum(r * (x == 0), axis=-1) / 2
            return s

        for alt in ALT:
            res = permutation_test((d,), stat, permutation_type="samples", n_resamples=np.inf,
                                   alternative=alt, vectorized=True)
            perm.append({"dataset": i, "zero_method": zm, "alternative": alt, "pvalue": float(res.pvalue),
                         "r_plus": float(res.statistic)})

out = {
    "generator": "scripts/golden/metrics-wilcoxon.py",
    "scipy": scipy.__version__,
    "numpy": np.__version__,
    "python": sys.version.split()[0],
    "executable": sys.executable,
    "cases": cases,
    "datasets": datasets,
    "grid": grid,
    "permutation_datasets": perm_datasets,
    "permutation": perm,
}
# one case / dataset per line keeps the file reviewable and diffable
head = {k: v for k, v in out.items() if k not in ("cases", "datasets", "grid", "permutation_datasets", "permutation")}
text = json.dumps(head, indent=1)[:-2]
for key in ("cases", "datasets", "grid", "permutation_datasets", "permutation"):
    text += f',\n "{key}": [\n' + ",\n".join("  " + json.dumps(c) for c in out[key]) + "\n ]"
sys.stdout.write(text + "\n}\n")
