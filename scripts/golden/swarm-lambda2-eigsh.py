#!/usr/bin/python3
"""Golden λ2 for @plora/swarm's fiedler beyond the dense reference's reach, from Debian bookworm's
scipy 1.10.1 (`scipy.sparse.linalg.eigsh(L, k=2, which='SM')`, default tol = machine precision).

Re-run (after `apt-get install -y python3-scipy python3-numpy`; /usr/bin/python3 is Debian's 3.11):
    /usr/bin/python3 scripts/golden/swarm-lambda2-eigsh.py > packages/swarm/test/golden/lambda2-eigsh.json

The graphs are built the same way in the test (no RNG): "chords" has node i joined to i + 1,
i + 37 and (i² + 7) mod n (an expander-like graph); "ladder" is a circular ladder 2 × n/2 with a
rung every node plus the chord i ↔ (7i + 3) mod n on every 50th node (a smaller spectral gap).
Loops and duplicate edges are dropped, as symmetricCsr does.
"""
import json

import numpy as np
import scipy
import scipy.sparse as sp
import scipy.sparse.linalg as sla


def chords(n):
    return [(i, j) for i in range(n) for j in ((i + 1) % n, (i + 37) % n, (i * i + 7) % n)]


def ladder(n):
    h = n // 2
    e = []
    for i in range(h):
        e += [(i, (i + 1) % h), (h + i, h + (i + 1) % h), (i, h + i)]
    e += [(i, (7 * i + 3) % n) for i in range(0, n, 50)]
    return e


def lambda2(n, edges, normalized):
    pairs = {(min(a, b), max(a, b)) for a, b in edges if a != b}
    r = np.array([p[0] for p in pairs] + [p[1] for p in pairs])
    c = np.array([p[1] for p in pairs] + [p[0] for p in pairs])
    a = sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(n, n))
    deg = np.asarray(a.sum(axis=1)).ravel()
    if normalized:
        s = sp.diags(1.0 / np.sqrt(np.maximum(deg, 1.0)))
        lap = sp.identity(n, format="csr") - s @ a @ s
    else:
        lap = sp.diags(deg) - a
    v0 = np.random.default_rng(0).random(n) - 0.5
    return float(np.sort(sla.eigsh(lap.tocsr(), k=2, which="SM", v0=v0)[0])[1])


cases = []
for name, make, n in (("chords", chords, 4000), ("ladder", ladder, 2000)):
    e = make(n)
    for normalized in (True, False):
        cases.append({"graph": name, "n": n, "normalized": normalized, "lambda2": lambda2(n, e, normalized)})
print(json.dumps({"generator": f"scipy {scipy.__version__} eigsh(L, k=2, which='SM')", "cases": cases}, indent=2))
