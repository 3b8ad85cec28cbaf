#!/usr/bin/python3
"""Interop evidence (issue 6): a client of the ORIGINAL unary protocol written against Python's
grpcio (Debian python3-grpcio), with the protobuf messages encoded and decoded by hand from the
original proto text (core.md §20.1), checking the reply with the original client's rules
(fetch_plasmid, core.md §20.3): status OK, sha256(bytes) == sha, RSA-PSS (MGF1-SHA256, salt auto)
signature over "PLORA|ADAPTER|v1|" + sha, tarfile "r:gz" extraction, then the artefact SHA-256
from plora.yml. Prints one JSON line. Not part of the test suite (the suite needs no Python).

Usage: /usr/bin/python3 python_client.py HOST PORT DOMAIN PUBLIC_KEY_PEM DEST
"""
import hashlib
import io
import json
import pathlib
import sys
import tarfile

import grpc
import yaml
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def encode_request(domain: str) -> bytes:
    data = domain.encode()
    return b"\x0a" + varint(len(data)) + data  # field 1, wire type 2 (string domain = 1)


def decode_reply(buf: bytes) -> dict:
    names = {1: "status", 2: "bytes", 3: "sha", 4: "manifest", 5: "signature"}
    out = {"status": b"", "bytes": b"", "sha": b"", "manifest": b"", "signature": b""}
    i = 0
    while i < len(buf):
        key, shift = 0, 0
        while True:
            b = buf[i]; i += 1
            key |= (b & 0x7F) << shift; shift += 7
            if not b & 0x80:
                break
        field, wire = key >> 3, key & 7
        assert wire == 2, f"unexpected wire type {wire} for field {field}"
        n, shift = 0, 0
        while True:
            b = buf[i]; i += 1
            n |= (b & 0x7F) << shift; shift += 7
            if not b & 0x80:
                break
        out[names.get(field, f"unknown{field}")] = buf[i:i + n]
        i += n
    return out


def main() -> None:
    host, port, domain, pub_path, dest = sys.argv[1:6]
    channel = grpc.insecure_channel(f"{host}:{port}", options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)])
    call = channel.unary_unary("/plora.Plasmid/OfferPlasmid", request_serializer=None, response_deserializer=None)
    reply = decode_reply(call(encode_request(domain), timeout=30))
    status = reply["status"].decode()
    result = {"grpcio": grpc.__version__, "status": status}
    if status != "OK":
        print(json.dumps(result)); return
    sha = reply["sha"].decode()
    result["sha_ok"] = hashlib.sha256(reply["bytes"]).hexdigest() == sha
    pub = serialization.load_pem_public_key(pathlib.Path(pub_path).read_bytes())
    try:
        pub.verify(
            __import__("base64").b64decode(reply["signature"]),
            ("PLORA|ADAPTER|v1|" + sha).encode(),
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO),
            hashes.SHA256(),
        )
        result["signature_ok"] = True
    except Exception as e:  # noqa: BLE001
        result["signature_ok"] = False
        result["signature_error"] = repr(e)
    with tarfile.open(fileobj=io.BytesIO(reply["bytes"]), mode="r:gz") as tar:
        result["members"] = sorted(m.name for m in tar.getmembers())
        tar.extractall(dest)
    manifest = yaml.safe_load(pathlib.Path(dest, "plora.yml").read_text())
    art = pathlib.Path(dest, manifest["artifacts"]["filename"]).read_bytes()
    result["artifact_ok"] = hashlib.sha256(art).hexdigest() == manifest["artifacts"]["sha256"]
    result["plasmid_id"] = manifest["plasmid_id"]
    result["payload_bytes"] = len(reply["bytes"])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
