"""Golden merged deltas of @plora/loader's merge methods (issue 17 item 3), in dense NumPy float64.

Each case merges 2-3 small random LoRA adapters (different ranks, one with rsLoRA scaling
alpha/sqrt(r), negative weights, one module that only some adapters target, one tall and one wide
module) with one method, and records per module the merged dense dW (after re-projection to rank k
where the method has one), the truncation error ||dW - dW_k||_F (absolute and relative) and, for
DARE, the keep masks. Everything here is implemented independently of the TypeScript code:

- task vectors t_i = w_i * s_i * B_i @ A_i, s_i = alpha/r (or alpha/sqrt(r) with rsLoRA);
- cat: sum_i t_i exactly; svd: numpy's dense SVD (LAPACK gesdd) of that sum, first k triplets;
- magnitude trim (PEFT magnitude_based_pruning): keep the floor(density*numel) largest |x|
  (ties keep the lower flat index);
- ties: trim each t_i, elected sign = sign(sum_i trimmed_i) (+ when 0), disjoint mean = sum of the
  agreeing entries / max(1, their count) (PEFT calculate_majority_sign_mask "total" + disjoint_merge);
- dare_linear: t_i * keep_i / (1 - p), summed; dare_ties: the same drop, then ties' election + mean;
- magnitude_prune: trim each t_i, sum;
- the dense methods and svd are then truncated to rank k with numpy's SVD; the error is
  ||dW - dW_k||_F computed from the dense difference.

DARE masks: entry e of adapter i in module `path` is dropped when the e-th random() of
random.Random(derive_seed(seed, "dare", path, i)) is < p, where derive_seed is @plora/common's
deriveSeed (SHA-256 of "plora-seed|<seed>|dare|<path>|<i>", 21 + 32 bits); CPython's Mersenne
Twister is what @plora/common's PythonRandom reproduces. The masks are also written to the JSON, so
the test checks the mask and the maths separately.

Factors are drawn with random.Random(case seed).gauss(0, 1), rounded to float32, and written to the JSON (the test reads
them, it does not redraw them).

Re-run (Debian python3 + python3-numpy):
  /usr/bin/python3 scripts/golden/merge_methods.py > packages/loader/test/golden/merge-methods.json
"""
import hashlib
import json
import math
import random

import numpy as np

MODULES = [("m.q", 7, 5), ("m.v", 4, 9)]  # (path, out, in): one tall, one wide

# Adapters: (rank, alpha, use_rslora, targeted module paths)
ADAPTERS = [
    (2, 4.0, False, ["m.q", "m.v"]),
    (3, 6.0, True, ["m.q", "m.v"]),
    (1, 2.0, False, ["m.q"]),  # does not target m.v
]

CASES = [
    # name, method, weights, density, drop_rate, seed, k
    ("cat-negative-weights", "cat", [0.7, -0.45, 1.3], None, None, None, None),
    ("svd-k2", "svd", [0.5, -0.8, 0.25], None, None, None, 2),
    ("svd-k6-exact", "svd", [1.0, 0.6, -1.1], None, None, None, 6),
    ("ties-d0.5-k3", "ties", [0.9, -0.6, 0.4], 0.5, None, None, 3),
    ("ties-equal-weights-d0.3-k3", "ties", None, 0.3, None, None, 3),
    ("dare_linear-p0.3-k3", "dare_linear", [0.8, -0.5, 0.6], None, 0.3, 7, 3),
    ("dare_ties-p0.5-k2", "dare_ties", [0.6, 0.9, -0.7], None, 0.5, 11, 2),
    ("magnitude_prune-d0.4-k4", "magnitude_prune", [1.2, -0.3, 0.5], 0.4, None, None, 4),
]


def derive_seed(seed, *labels):
    h = hashlib.sha256(("plora-seed|" + str(seed)).encode())
    for label in labels:
        h.update(("|" + str(label)).encode())
    d = h.digest()
    return (int.from_bytes(d[0:4], "big") >> 11) * 4294967296 + int.from_bytes(d[4:8], "big")


def dare_mask(seed, path, index, size, p):
    rng = random.Random(derive_seed(seed, "dare", path, index))
    return np.array([0 if rng.random() < p else 1 for _ in range(size)], dtype=np.int64)


def trim(x, density):
    flat = x.reshape(-1)
    keep = math.floor(density * flat.size)
    out = np.zeros_like(flat)
    if keep > 0:
        order = np.lexsort((np.arange(flat.size), -np.abs(flat)))  # |x| descending, index ascending
        out[order[:keep]] = flat[order[:keep]]
    return out.reshape(x.shape)


def elect_disjoint_mean(tensors):
    t = np.stack(tensors, axis=0)
    sign = np.where(t.sum(axis=0) >= 0, 1.0, -1.0)
    agree = np.sign(t) == sign
    count = agree.sum(axis=0)
    return (t * agree).sum(axis=0) / np.maximum(1, count)


def truncate(dw, k):
    u, s, vt = np.linalg.svd(dw, full_matrices=False)
    kk = min(k, s.size)
    return (u[:, :kk] * s[:kk]) @ vt[:kk, :]


def main():
    cases = []
    for case_index, (name, method, weights, density, drop_rate, seed, k) in enumerate(CASES):
        rng = random.Random(1000 + case_index)
        adapters = []
        for rank, alpha, rslora, targets in ADAPTERS:
            scale = alpha / math.sqrt(rank) if rslora else alpha / rank
            mods = {}
            for path, n_out, n_in in MODULES:
                if path not in targets:
                    continue
                # Rounded to float32: LoRA tensors are F32, so the test's Float32Array holds them exactly.
                a = [float(np.float32(rng.gauss(0.0, 1.0))) for _ in range(rank * n_in)]
                b = [float(np.float32(rng.gauss(0.0, 1.0))) for _ in range(n_out * rank)]
                mods[path] = {"out": n_out, "in": n_in, "a": a, "b": b}
            adapters.append({"r": rank, "lora_alpha": alpha, "use_rslora": rslora, "scale": scale, "modules": mods})
        w = weights if weights is not None else [1.0 / len(ADAPTERS)] * len(ADAPTERS)
        expected = {}
        norm_sq = 0.0
        err_sq = 0.0
        for path, n_out, n_in in MODULES:
            tasks, indices = [], []
            for i, ad in enumerate(adapters):
                m = ad["modules"].get(path)
                if m is None:
                    continue
                A = np.array(m["a"], dtype=np.float64).reshape(ad["r"], n_in)
                B = np.array(m["b"], dtype=np.float64).reshape(n_out, ad["r"])
                tasks.append(w[i] * ad["scale"] * (B @ A))
                indices.append(i)
            entry = {}
            if method in ("cat", "svd"):
                dw = np.sum(tasks, axis=0)
            elif method == "ties":
                dw = elect_disjoint_mean([trim(t, density) for t in tasks])
            elif method == "magnitude_prune":
                dw = np.sum([trim(t, density) for t in tasks], axis=0)
            else:
                masks = [dare_mask(seed, path, i, t.size, drop_rate) for t, i in zip(tasks, indices)]
                entry["masks"] = {str(i): mk.tolist() for i, mk in zip(indices, masks)}
                dropped = [t * mk.reshape(t.shape) / (1.0 - drop_rate) for t, mk in zip(tasks, masks)]
                dw = np.sum(dropped, axis=0) if method == "dare_linear" else elect_disjoint_mean(dropped)
            if method == "cat":
                entry["rank"] = int(sum(adapters[i]["r"] for i in indices))
                entry["dense"] = dw.reshape(-1).tolist()
            else:
                dk = truncate(dw, k)
                norm = float(np.linalg.norm(dw))
                error = float(np.linalg.norm(dw - dk))
                entry["rank"] = k
                entry["dense"] = dk.reshape(-1).tolist()
                entry["untruncated"] = dw.reshape(-1).tolist()
                entry["norm"] = norm
                entry["error"] = error
                entry["relative"] = error / norm if norm > 0 else 0.0
                norm_sq += norm * norm
                err_sq += error * error
            expected[path] = entry
        case = {
            "name": name,
            "method": method,
            "weights": weights,
            "density": density,
            "drop_rate": drop_rate,
            "seed": seed,
            "k": k,
            "adapters": adapters,
            "expected": expected,
        }
        if method != "cat":
            case["truncation_relative"] = math.sqrt(err_sq / norm_sq) if norm_sq > 0 else 0.0
        cases.append(case)
    json.dump({"generator": "scripts/golden/merge_methods.py", "numpy": np.__version__, "cases": cases}, __import__("sys").stdout)


if __name__ == "__main__":
    main()
