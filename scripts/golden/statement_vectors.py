"""Folder-statement interop vector (issue 15 point 8): Python `cryptography` / PyYAML <-> plora.

Step 2 (step 1 is statement-plora-made.mjs, see there). Written from the format description in
packages/signer/src/statement.ts, independently of plora's code, this script
  * recomputes every file's size and SHA-256 from the bytes, and the manifest's canonical bytes
    from the YAML plora wrote (yaml.safe_load, `signer` block and null fields removed, RFC 8785:
    keys sorted by UTF-16 code units, no whitespace, ECMAScript number formatting);
  * builds the in-toto Statement v1 itself and checks that its RFC 8785 bytes equal plora's;
  * verifies plora's signatures over "PLORA|FOLDER|v1|" + sha256(statement bytes): RSA-PSS
    MGF1-SHA256 (salt auto-detected) and Ed25519;
  * signs the same message with the same keys (RSA-PSS PSS.MAX_LENGTH salt, Ed25519), so plora can
    verify Python-made signatures; Ed25519 is deterministic, so its signature must equal plora's.

Re-run (repo root):
  npx tsc -b packages/signer packages/manifest
  node scripts/golden/statement-plora-made.mjs > /tmp/statement-plora-made.json
  python3 scripts/golden/statement_vectors.py /tmp/statement-plora-made.json
Output: packages/signer/test/golden/statement-interop.json (test-only keys, regenerated each run).
"""
import base64
import hashlib
import json
import math
import os
import platform
import sys

import cryptography
import yaml
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FOLDER_TAG = "PLORA|FOLDER|v1|"


def es_number(x):
    """ECMAScript Number::toString (RFC 8785 §3.2.2.3) for a finite int or float."""
    if isinstance(x, bool):
        raise TypeError("bool is not a number")
    if isinstance(x, int):
        x = float(x) if abs(x) > 2**53 else x
        if isinstance(x, int):
            return str(x)
    if not math.isfinite(x):
        raise ValueError("not finite")
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    r = repr(abs(x))  # shortest round-trip digits, as ECMAScript uses
    mant, _, exp = r.partition("e")
    intpart, _, frac = mant.partition(".")
    digits = (intpart + frac).lstrip("0")
    # value = 0.digits * 10^n  <=>  digits * 10^(n-k)
    n = len(intpart.lstrip("0")) if intpart.strip("0") else -(len(frac) - len(frac.lstrip("0")))
    n += int(exp) if exp else 0
    digits = digits.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        s = digits + "0" * (n - k)
    elif 0 < n <= 21:
        s = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        s = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        s = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e >= 0 else "-") + str(abs(e))
    return sign + s


def jcs(v):
    """RFC 8785 canonical JSON of the subset plora signs."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return es_number(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ",".join(jcs(x) for x in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v, key=lambda s: s.encode("utf-16-be"))
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + jcs(v[k]) for k in keys) + "}"
    raise TypeError(type(v))


def drop_nulls(v):
    if isinstance(v, dict):
        return {k: drop_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [drop_nulls(x) for x in v]
    return v


def sha(b):
    return hashlib.sha256(b).hexdigest()


def check(cond, what):
    if not cond:
        sys.exit(f"FAILED: {what}")
    print(f"ok: {what}")


def main(path):
    made = json.load(open(path, encoding="utf-8"))
    # spot checks of the number formatter against RFC 8785 Appendix B
    for x, s in [(1e21, "1e+21"), (1e-7, "1e-7"), (0.000001, "0.000001"), (333333333.3333333, "333333333.3333333"),
                 (4.0, "4"), (-1.5, "-1.5"), (5e-324, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308")]:
        check(es_number(x) == s, f"ECMAScript number form of {x!r} is {s}")
    files = {n: base64.b64decode(b) for n, b in made["files"].items()}
    m = yaml.safe_load(made["manifest_yaml"])
    m.pop("signer")
    manifest_canonical = jcs(drop_nulls(m))
    check(manifest_canonical == made["manifest_canonical"], "manifest canonical bytes (PyYAML + Python JCS) equal plora's")
    names = sorted(files, key=lambda s: s.encode("utf-16-be"))
    entries = [{"name": n, "size": len(files[n]), "sha256": sha(files[n])} for n in names]
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": e["name"], "digest": {"sha256": e["sha256"]}, "annotations": {"size": e["size"]}} for e in entries],
        "predicateType": "https://plora.dev/adapter-folder/v1",
        "predicate": {
            "manifest_file": "plora.yml",
            "manifest_sha256": sha(manifest_canonical.encode("utf-8")),
            "manifest": json.loads(manifest_canonical),
            "files": entries,
        },
    }
    canonical = jcs(statement).encode("utf-8")
    check(canonical.decode("utf-8") == made["statement_canonical"], "statement canonical bytes built by Python equal plora's")
    digest = sha(canonical)
    check(digest == made["statement_sha256"], "statement SHA-256")
    message = (FOLDER_TAG + digest).encode("utf-8")
    check(message.decode() == made["message"], "signed message is PLORA|FOLDER|v1| + digest")
    verdicts = []
    py_sigs = []
    for s in made["plora_signatures"]:
        k = made["keys"][s["key"]]
        pub = serialization.load_pem_public_key(k["public_pem"].encode())
        der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        check(sha(der) == s["fingerprint"] == k["fingerprint"], f"{s['key']} fingerprint = sha256(DER SPKI)")
        sig = base64.b64decode(s["signature_b64"])
        try:
            if isinstance(pub, ed25519.Ed25519PublicKey):
                pub.verify(sig, message)
            else:
                pub.verify(sig, message, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO), hashes.SHA256())
            ok = True
        except InvalidSignature:
            ok = False
        check(ok, f"plora {s['key']} signature verifies in Python")
        verdicts.append({"key": s["key"], "python_verified": ok})
        priv = serialization.load_pem_private_key(k["private_pem"].encode(), password=None)
        if isinstance(priv, ed25519.Ed25519PrivateKey):
            mine = priv.sign(message)
            check(base64.b64encode(mine).decode() == s["signature_b64"], "Python Ed25519 signature equals plora's (deterministic)")
            algo = "ED25519-SHA256"
        else:
            mine = priv.sign(message, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH), hashes.SHA256())
            algo = "RSA-PSS-SHA256"
        py_sigs.append({"key": s["key"], "algo": algo, "fingerprint": k["fingerprint"], "signature_b64": base64.b64encode(mine).decode()})
    vector = {
        "provenance": f"scripts/golden/statement_vectors.py, Python {platform.python_version()}, cryptography {cryptography.__version__}, PyYAML {yaml.__version__}",
        **made,
        "python_statement_canonical": canonical.decode("utf-8"),
        "python_verdicts": verdicts,
        "python_signatures": py_sigs,
    }
    out = os.path.join(ROOT, "packages/signer/test/golden/statement-interop.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump(vector, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {os.path.relpath(out, ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1])
