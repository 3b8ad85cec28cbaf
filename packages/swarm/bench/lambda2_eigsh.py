"""scipy side of bench/lambda2-vs-scipy.mjs: a line-oriented server, one request per line on stdin.

Started with the CSR of a graph (int32 offsets and targets files). Each request is
``<laplacian> <variant> <seed>``; the reply is one JSON line with the eigsh wall time (only the eigsh
call is timed; the Laplacian is built once, untimed) and λ2. Needs numpy and scipy
(/usr/bin/python3 on Debian: python3-numpy, python3-scipy).

Variants (what a scipy user would write for λ2):
  sm       eigsh(L, k=2, which='SM')                    default tol (machine precision)
  sa       eigsh(L, k=2, which='SA', tol=1e-10)
  shift    eigsh(c*I - L, k=2, which='LA', tol=1e-10)    c = 2 (normalized) or 2*d_max, λ2 = c - θ2
"""
import json
import sys
import time

import numpy as np
import scipy
import scipy.sparse as sp
import scipy.sparse.linalg as sla


def main() -> None:
    off = np.fromfile(sys.argv[1], dtype=np.int32)
    tgt = np.fromfile(sys.argv[2], dtype=np.int32)
    n = len(off) - 1
    a = sp.csr_matrix((np.ones(len(tgt)), tgt, off), shape=(n, n))
    deg = np.asarray(a.sum(axis=1)).ravel()
    s = 1.0 / np.sqrt(np.maximum(deg, 1.0))
    ds = sp.diags(s)
    lap = {
        "normalized": (sp.identity(n, format="csr") - ds @ a @ ds).tocsr(),
        "combinatorial": (sp.diags(deg) - a).tocsr(),
    }
    shift = {"normalized": 2.0, "combinatorial": 2.0 * float(deg.max())}
    shifted = {k: (shift[k] * sp.identity(n, format="csr") - v).tocsr() for k, v in lap.items()}
    print(json.dumps({"ready": True, "n": n, "nnz": int(a.nnz), "numpy": np.__version__, "scipy": scipy.__version__}), flush=True)
    for line in sys.stdin:
        kind, variant, seed = line.split()
        v0 = np.random.default_rng(int(seed)).random(n) - 0.5
        t0 = time.perf_counter()
        if variant == "sm":
            vals = np.sort(sla.eigsh(lap[kind], k=2, which="SM", v0=v0)[0])
            lam = float(vals[1])
        elif variant == "sa":
            vals = np.sort(sla.eigsh(lap[kind], k=2, which="SA", tol=1e-10, v0=v0)[0])
            lam = float(vals[1])
        elif variant == "shift":
            vals = np.sort(sla.eigsh(shifted[kind], k=2, which="LA", tol=1e-10, v0=v0)[0])
            lam = shift[kind] - float(vals[0])
        else:
            raise SystemExit(f"unknown variant {variant!r}")
        wall = time.perf_counter() - t0
        print(json.dumps({"seconds": wall, "lambda2": lam}), flush=True)


if __name__ == "__main__":
    main()
