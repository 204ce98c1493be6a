"""Build the one-file customer program ``dist/zvk-quicksupport`` with PyInstaller.

``make dist-linux`` runs this.  The relay address and the organisation's CA
public key are baked in (``--relay``, ``--ca-key``; or the environment
variables ``ZVK_RELAY`` and ``ZVK_CA_KEY``); ``--relay`` on the customer's
command line still overrides them.

A build is skipped when its inputs are unchanged: the hash of the lock file,
the sources of ``zvkdiag``, this folder and the built-in settings is kept
beside the binary (``<name>.inputs``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bake import ROOT, BuiltIn, add_options, checked_json, from_options, write

NAME = "zvk-quicksupport"
LOCK = ROOT / "requirements" / "linux-py311.lock"


def inputs_hash(builtin: str) -> str:
    """SHA-256 over everything that goes into the binary (but the interpreter)."""
    digest = hashlib.sha256(builtin.encode())
    files = [
        LOCK,
        *sorted((ROOT / "zvkdiag").rglob("*.py")),
        *sorted(Path(__file__).parent.glob("*")),
    ]
    for path in files:
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    digest.update(sys.version.encode())
    return digest.hexdigest()


def build(out: Path, builtin: BuiltIn, *, force: bool = False) -> Path:
    """Build ``out/zvk-quicksupport`` unless an up-to-date one is there; returns its path."""
    raw = checked_json(builtin)
    binary, stamp = out / NAME, out / f"{NAME}.inputs"
    want = inputs_hash(raw)
    if not force and binary.exists() and stamp.exists() and stamp.read_text() == want:
        print(f"{binary}: up to date")
        return binary
    with tempfile.TemporaryDirectory(prefix="zvk-build-") as tmp:
        env = {**os.environ, "ZVK_BUILTIN": str(write(raw, Path(tmp))), "ZVK_NAME": NAME}
        subprocess.run(
            [
                sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level=WARN",
                "--distpath", str(out), "--workpath", str(Path(tmp) / "work"),
                str(Path(__file__).with_name("zvk-quicksupport.spec")),
            ],
            check=True,
            env=env,
        )  # fmt: skip
    stamp.write_text(want)
    print(f"{binary}: {binary.stat().st_size / 1e6:.1f} MB")
    return binary


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_options(p)
    p.add_argument("--out", type=Path, default=ROOT / "dist")
    p.add_argument("--force", action="store_true", help="build even when nothing changed")
    args = p.parse_args()
    build(args.out, from_options(args), force=args.force)


if __name__ == "__main__":
    main()
