#!/usr/bin/env python3
"""Golden vectors for @plora/datasets (run with CPython 3.11; standard library only).

    python3 scripts/golden/datasets_vectors.py > packages/datasets/test/golden/datasets-vectors.json

An independent Python reference for three things the TypeScript port must reproduce exactly:
  1. the split rule: norm(q) = re.sub(r"\\s+", " ", NFKC(q).lower()).strip();
     h = sha256("plora-split|v1|" + norm(q)); u = (((h[0:4] >> 11) << 32) | h[4:8]) / 2**53;
     train if u < 0.8, validation if u < 0.9, else test;
  2. the original's pair construction (spec core.md §15.1), written the way
     plora/dataset_loader.py does it (str.strip(), context[:1000], endings[label]);
  3. the original's validate_qa_pairs (spec core.md §15.3): which inputs raise and what is kept.
"""
import hashlib
import json
import re
import sys
import unicodedata


def norm(q):
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", q).lower()).strip()


def position(q):
    d = hashlib.sha256(("plora-split|v1|" + norm(q)).encode("utf-8")).digest()
    hi = int.from_bytes(d[0:4], "big")
    lo = int.from_bytes(d[4:8], "big")
    return (((hi >> 11) << 32) | lo) / 2**53


def split_of(q, f=(0.8, 0.1, 0.1)):
    u = position(q)
    return "train" if u < f[0] else "validation" if u < f[0] + f[1] else "test"


QUESTIONS = [f"What is the meaning of term number {i}?" for i in range(40)] + [
    "  Leading and trailing spaces  ",
    "Tabs\tand\nnewlines\r\nmixed",
    "ＦＵＬＬＷＩＤＴＨ letters",
    "Ligature ﬁ and ² superscript",
    "Non\u00a0breaking\u2003spaces",
    "Unit sep\x1fand next line\x85here",
    "Straße and İstanbul",
    "emoji 😀 question?",
    "",
]
splits = [{"question": q, "norm": norm(q), "position": position(q), "split": split_of(q)} for q in QUESTIONS]

# --- pair construction -------------------------------------------------------------------------
AQUA = [
    {"question": "  A man walks 5 km.  ", "rationale": "Distance = 5 km.\nAnswer: A "},
    {"question": "\x1c\x85Q with Python-only whitespace\x85", "rationale": "\ufeffBOM stays"},
    {"question": "   ", "rationale": "blank question"},
    {"question": "No rationale", "rationale": " \t "},
]
aqua_pairs = []
for row in AQUA:
    q = row["question"].strip()
    a = row["rationale"].strip()
    if q and a:
        aqua_pairs.append([q, a])

CASE_HOLD = [
    {"context": " " + "x" * 1200, "endings": ["e0", "holding one", "e2", "e3", "e4"], "label": 1},
    {"context": "😀" * 1001, "endings": ["holding zero", "b", "c", "d", "e"], "label": 0},
    {"context": "ctx", "endings": ["a", "b"], "label": 5},
    {"context": "ctx", "endings": ["a", "b"], "label": -1},
    {"context": "   ", "endings": ["a", "b"], "label": 0},
    {"context": "ctx2", "endings": ["a", "  "], "label": 1},
]
case_pairs = []
for row in CASE_HOLD:
    label = row["label"]
    if not (0 <= label < len(row["endings"])):
        continue
    q = row["context"][:1000]
    a = row["endings"][label]
    if q.strip() and a.strip():
        case_pairs.append([q, a])

MEDMCQA = [
    {"question": " Which nerve? ", "exp": " The facial nerve. "},
    {"question": "No explanation", "exp": None},
    {"question": "Empty explanation", "exp": "   "},
]
med_pairs = []
for row in MEDMCQA:
    q = (row["question"] or "").strip()
    a = (row["exp"] or "").strip()
    if q and a:
        med_pairs.append([q, a])

# --- validation (strict) -----------------------------------------------------------------------
def validate(pairs):
    if not pairs:
        return {"error": "empty"}
    kept = [(q, a) for q, a in pairs if q is not None and a is not None and str(q).strip() and str(a).strip()]
    if not kept:
        return {"error": "empty"}
    from collections import Counter
    n = len(kept)
    top, c = Counter(a for _, a in kept).most_common(1)[0]
    if n >= 20 and c / n > 0.5:
        return {"error": "placeholder", "count": c, "total": n}
    short = sum(1 for _, a in kept if len(a.strip()) < 10)
    return {"kept": n, "short_warning": short / n > 0.5}


VALIDATION_CASES = {
    "empty": [],
    "all_blank": [["", "x"], [" ", "y"]],
    "half_placeholder": [[f"q{i}", "same answer text" if i < 10 else f"distinct answer {i}"] for i in range(20)],
    "placeholder": [[f"q{i}", "same answer text" if i < 11 else f"distinct answer {i}"] for i in range(20)],
    "short_answers": [[f"q{i}", f"a{i}"] for i in range(30)],
    "python_space_blank": [["q", "\x1c\x85"], ["q2", "a fine answer"]],
}
validation = {name: {"pairs": pairs, "result": validate(pairs)} for name, pairs in VALIDATION_CASES.items()}

json.dump(
    {
        "python": sys.version.split()[0],
        "splits": splits,
        "pairs": {
            "aqua_rat": {"rows": AQUA, "pairs": aqua_pairs},
            "case_hold": {"rows": CASE_HOLD, "pairs": case_pairs},
            "medmcqa": {"rows": MEDMCQA, "pairs": med_pairs},
        },
        "validation": validation,
    },
    sys.stdout,
    ensure_ascii=True,
    indent=1,
)
sys.stdout.write("\n")
