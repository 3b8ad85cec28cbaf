"""Trust interop vectors (issue 3): Python `cryptography` / PyYAML <-> plora.

Step 2 (step 1 is trust-plora-made.mjs, see there). With Debian's python3-cryptography and
python3-yaml, this script
  * signs the original's way (written from the spec, core.md §2): RSA-3072 keys (PKCS#8/SPKI PEM),
    RSA-PSS + MGF1-SHA256 with PSS.MAX_LENGTH salt over the UTF-8 text of the hex digest ("raw")
    and over the tagged text "PLORA|ADAPTER|v1|" + hex / "PLORA|POLICY|v1|" + hex(policy bytes);
    Ed25519 (pure) over the same texts; an encrypted PKCS#8 key (BestAvailableEncryption);
  * computes key fingerprints as sha256(DER SubjectPublicKeyInfo) hex;
  * verifies every plora-made signature the original's way (RSA-PSS with PSS.MAX_LENGTH, then the
    Ed25519 fallback) and records each verdict, and checks plora's fingerprints;
  * dumps the spec's fixture manifest with yaml.safe_dump(sort_keys=False) and safe_loads plora's
    dumps, recording what Python reads.

Re-run (repo root):
  npx tsc -b packages/signer packages/manifest
  node scripts/golden/trust-plora-made.mjs > /tmp/plora-made.json
  /usr/bin/python3 scripts/golden/trust_vectors.py /tmp/plora-made.json
Outputs: packages/signer/test/golden/python-interop.json, packages/manifest/test/golden/python-yaml.json
(keys are freshly generated on each run; the tests read whatever was committed).
"""
import base64
import hashlib
import json
import os
import platform
import sys

import cryptography
import yaml
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
ADAPTER_TAG = "PLORA|ADAPTER|v1|"
POLICY_TAG = "PLORA|POLICY|v1|"
PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH)


def sign_text(priv, text):
    """The original's sign_sha256_hex: RSA-PSS max salt, Ed25519 fallback."""
    data = text.encode("utf-8")
    if isinstance(priv, rsa.RSAPrivateKey):
        return base64.b64encode(priv.sign(data, PSS, hashes.SHA256())).decode()
    return base64.b64encode(priv.sign(data)).decode()


def verify_text(pub, text, sig_b64):
    """The original's verify_sha256_hex: RSA-PSS (MAX_LENGTH), then Ed25519; any failure -> False."""
    data = text.encode("utf-8")
    try:
        sig = base64.b64decode(sig_b64)
    except Exception:
        return False
    try:
        pub.verify(sig, data, PSS, hashes.SHA256())
        return True
    except Exception:
        pass
    try:
        pub.verify(sig, data)
        return True
    except Exception:
        return False


def fingerprint(pub):
    der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def pem_pair(priv, passphrase=None):
    enc = serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    return {
        "private_pem": priv.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc).decode(),
        "public_pem": priv.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode(),
        "fingerprint": fingerprint(priv.public_key()),
    }


def main(plora_made_path):
    with open(plora_made_path) as f:
        made = json.load(f)

    digest = hashlib.sha256(b"hello").hexdigest()
    other = hashlib.sha256(b"other").hexdigest()
    policy_text = '{"allowed_ranks": [4, 8, 16], "signatures_enabled": true}\n'
    policy_digest = hashlib.sha256(policy_text.encode()).hexdigest()

    keys = {
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=3072),
        "ed25519": ed25519.Ed25519PrivateKey.generate(),
    }
    out_keys = {name: pem_pair(k) for name, k in keys.items()}
    out_keys["rsa_encrypted"] = dict(pem_pair(keys["rsa"], "s3cret"), passphrase="s3cret")

    sigs = []
    for name, priv in keys.items():
        for form, text in (
            ("raw", digest),
            ("adapter", ADAPTER_TAG + digest),
            ("policy", POLICY_TAG + policy_digest),
        ):
            sig = sign_text(priv, text)
            assert verify_text(priv.public_key(), text, sig)
            assert not verify_text(priv.public_key(), text[:-1] + ("0" if text[-1] != "0" else "1"), sig)
            sigs.append({"key": name, "form": form, "message": text, "signature_b64": sig})

    # plora-made material, checked the original's way.
    verdicts = []
    for s in made["signatures"]:
        pub = serialization.load_pem_public_key(made["keys"][s["key"]]["public_pem"].encode())
        ok = verify_text(pub, s["message"], s["signature_b64"])
        # And a negative control: the same signature over another message must fail.
        neg = verify_text(pub, s["message"] + "0", s["signature_b64"])
        verdicts.append(dict(s, python_verified=ok, python_rejects_other_message=not neg))
    fps = {}
    for name, k in made["keys"].items():
        pub = serialization.load_pem_public_key(k["public_pem"].encode())
        priv = serialization.load_pem_private_key(k["private_pem"].encode(), password=None)
        fps[name] = {
            "plora": k["fingerprint"],
            "python": fingerprint(pub),
            "python_from_private": fingerprint(priv.public_key()),
        }

    env = {
        "python": platform.python_version(),
        "cryptography": cryptography.__version__,
        "pyyaml": yaml.__version__,
        "generated_by": "scripts/golden/trust_vectors.py (+ trust-plora-made.mjs)",
    }
    signer_out = {
        "env": env,
        "note": "python_* entries were made by Python cryptography the original's way; plora_made entries "
        "were made by plora and verified here by Python (python_verified).",
        "digest": digest,
        "other_digest": other,
        "policy_text": policy_text,
        "python_keys": out_keys,
        "python_signatures": sigs,
        "plora_made": {
            "keys": {n: {"public_pem": k["public_pem"], "fingerprint": k["fingerprint"]} for n, k in made["keys"].items()},
            "signatures": verdicts,
            "fingerprints": fps,
        },
    }
    with open(os.path.join(ROOT, "packages/signer/test/golden/python-interop.json"), "w") as f:
        json.dump(signer_out, f, indent=2)
        f.write("\n")

    # YAML: Python's dump of the spec fixture, and Python's reading of plora's dumps.
    with open(os.path.join(ROOT, "packages/manifest/test/fixtures/plora.yml")) as f:
        fixture = yaml.safe_load(f)
    manifest_out = {
        "env": env,
        "python_dump_of_fixture": yaml.safe_dump(fixture, sort_keys=False),
        "plora_dumps": made["manifests"],
        "python_reads_plora_dumps": {k: yaml.safe_load(v) for k, v in made["manifests"].items()},
    }
    with open(os.path.join(ROOT, "packages/manifest/test/golden/python-yaml.json"), "w") as f:
        json.dump(manifest_out, f, indent=2)
        f.write("\n")

    # "raw-salt32" is a probe (not something plora writes): recorded, not required.
    probes = [v for v in verdicts if v["form"] == "raw-salt32"]
    verdicts_made = [v for v in verdicts if v["form"] != "raw-salt32"]
    bad = [v for v in verdicts_made if not (v["python_verified"] and v["python_rejects_other_message"])]
    fp_bad = [n for n, v in fps.items() if not (v["plora"] == v["python"] == v["python_from_private"])]
    print(f"python {env['python']}, cryptography {env['cryptography']}, PyYAML {env['pyyaml']}")
    print(f"plora-made signatures verified by Python: {len(verdicts_made) - len(bad)}/{len(verdicts_made)}")
    for v in probes:
        print(f"probe: node salt-32 PSS signature accepted by PSS.MAX_LENGTH verify here: {v['python_verified']}")
    print(f"plora fingerprints equal to Python's: {len(fps) - len(fp_bad)}/{len(fps)}")
    return 1 if bad or fp_bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
