"""Golden singular values of LoRA updates dW = s * B @ A for @plora/gate (lora-stats tests).

A ([r, in]) and B ([out, r]) are drawn with Python's random.Random(seed).gauss(0, 1), A first
(row-major), then B — the same stream @plora/common's PythonRandom reproduces bit for bit — and the
reference values come from numpy's dense SVD of dW (LAPACK gesdd), which the gate must never run.

Re-run: python3 scripts/golden/gate_lora_svd.py > packages/peft/test/golden/lora-svd.json
"""
import json
import random

import numpy as np

CASES = [
    # seed, r, in, out, scale, rank-deficient (B's last column copies its first)
    (1, 4, 40, 24, 2.0, False),
    (2, 8, 64, 96, 0.5, False),
    (3, 16, 33, 17, 1.0, False),
    (4, 4, 50, 30, 4.0, True),
]

out = []
for seed, r, n_in, n_out, scale, deficient in CASES:
    rng = random.Random(seed)
    a = [rng.gauss(0.0, 1.0) for _ in range(r * n_in)]
    b = [rng.gauss(0.0, 1.0) for _ in range(n_out * r)]
    A = np.array(a, dtype=np.float64).reshape(r, n_in)
    B = np.array(b, dtype=np.float64).reshape(n_out, r)
    if deficient:
        B[:, r - 1] = B[:, 0]
        A[r - 1, :] = A[0, :]
    dW = scale * B @ A
    sv = np.linalg.svd(dW, compute_uv=False)[:r]
    out.append({
        "seed": seed, "r": r, "in": n_in, "out": n_out, "scale": scale, "deficient": deficient,
        "singular_values": [float(x) for x in sv],
        "frobenius": float(np.linalg.norm(dW, "fro")),
        "spectral": float(sv[0]),
    })
print(json.dumps({"provenance": "scripts/golden/gate_lora_svd.py (numpy %s dense SVD)" % np.__version__, "cases": out}, indent=1))
