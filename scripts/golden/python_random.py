#!/usr/bin/env python3
"""Golden values for @plora/common's PythonRandom (run with CPython 3.11).

    python3 scripts/golden/python_random.py > packages/common/test/golden/python-random.json

For each seed: the first 1,000 values of random(), then (from a fresh generator each) 1,000 draws
of randrange(10**6), shuffle(range(50)), sample(range(100), 10), plus a mixed sequence exercising
choice, randint, gauss, getrandbits and sample's set-based branch.
"""
import json
import random
import sys

SEEDS = [0, 1, 42, 2**40]
out = {"python": sys.version.split()[0], "seeds": {}}
for seed in SEEDS:
    r = random.Random(seed)
    rnd = [r.random() for _ in range(1000)]
    r = random.Random(seed)
    rr = [r.randrange(10**6) for _ in range(1000)]
    r = random.Random(seed)
    sh = list(range(50))
    r.shuffle(sh)
    r = random.Random(seed)
    sa = r.sample(range(100), 10)
    r = random.Random(seed)
    mixed = {
        "choice": [r.choice("abcdefghij") for _ in range(20)],
        "randint": [r.randint(-5, 5) for _ in range(20)],
        "randrange_step": [r.randrange(3, 1000, 7) for _ in range(20)],
        "getrandbits": [r.getrandbits(k) for k in (1, 7, 31, 32, 33, 48, 53)],
        "gauss": [r.gauss(0.0, 1.0) for _ in range(21)],
        "sample_big": r.sample(range(100000), 30),
        "randbelow_big": [r.randrange(2**52 + 12345) for _ in range(10)],
    }
    out["seeds"][str(seed)] = {"random": rnd, "randrange_1e6": rr, "shuffle_50": sh, "sample_100_10": sa, "mixed": mixed}
json.dump(out, sys.stdout, indent=None, separators=(",", ":"))
sys.stdout.write("\n")
