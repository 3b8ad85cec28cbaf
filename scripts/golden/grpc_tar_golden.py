#!/usr/bin/env python3
"""Golden tar archive for @plora/grpc's deterministic ustar writer (packages/grpc/src/tar.ts).

Writes packages/grpc/test/golden/python-ustar.tar with CPython's tarfile in USTAR format, using
the same fixed header fields plora uses (mode 0644, uid/gid 0, empty user/group names, mtime 0,
regular files, entries sorted by name). The TypeScript test compares its archive with this one
byte for byte (tarfile also pads the archive to a 10240-byte record; the test checks that tail is
zero).

Re-run:  python3 scripts/golden/grpc_tar_golden.py
"""
import hashlib
import io
import pathlib
import tarfile

OUT = pathlib.Path(__file__).resolve().parents[2] / "packages/grpc/test/golden/python-ustar.tar"


def body(name: str, n: int) -> bytes:
    # Deterministic content: sha256 counter mode over the name (as the TS test's seededBytes).
    out = bytearray()
    c = 0
    while len(out) < n:
        out += hashlib.sha256(name.encode() + c.to_bytes(8, "little")).digest()
        c += 1
    return bytes(out[:n])


FILES = {
    "README.md": 0,
    "adapter_config.json": 100,
    "adapter_model.safetensors": 5000,
    "plora.yml": 512,
    "sub/" + "d" * 90 + "/" + "n" * 60 + ".json": 7,  # needs the ustar prefix field
}


def main() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(FILES, key=lambda s: s.encode()):
            data = body(name, FILES[name])
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            info.type = tarfile.REGTYPE
            tar.addfile(info, io.BytesIO(data))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(buf.getvalue())
    print(f"wrote {OUT} ({len(buf.getvalue())} bytes)")


if __name__ == "__main__":
    main()
