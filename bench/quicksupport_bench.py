"""The one-file customer program: its size, and start to ``ID:`` printed, beside the same
program run from the source tree (``python -m zvkdiag quicksupport``) in the same run.

Both start with ``--ui console`` against one real relay (a child process on
127.0.0.1:0); the clock runs from ``Popen`` until the ``ID:`` line arrives on
stdout.  Runs are interleaved.  The first start of the binary after it was
built is reported apart ("first"): PyInstaller's one-file program unpacks
itself into a temporary folder at every start, and the first start also
reads the binary from the disk.  The environment of the binary is ``env -i``
with an empty PATH, as on a PC without Python.

Run: ``.venv/bin/python bench/quicksupport_bench.py [--runs 5]`` (builds
``dist/zvk-quicksupport`` first if it is missing or stale).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "packaging"))

from build_onefile import build  # type: ignore[import-not-found]  # noqa: E402

from zvkdiag.quicksupport.builtin import BuiltIn  # noqa: E402

ID = re.compile(r"^ID: \d{3} \d{3} \d{3}$")


def start_to_id(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.PIPE,
        text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if ID.match(line.strip()):
                return time.perf_counter() - start
        raise RuntimeError(f"{command[0]} ended without an ID")
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
        if proc.stdin is not None:
            proc.stdin.close()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    binary = build(ROOT / "dist", BuiltIn())
    relay = subprocess.Popen(
        [sys.executable, "-m", "zvkdiag", "relay", "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert relay.stdout is not None
        address = relay.stdout.readline().split()[-1]
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "bin").mkdir()
            bare = {"PATH": str(Path(tmp) / "bin"), "HOME": tmp, "XDG_DATA_HOME": tmp}
            opts = ["--relay", address, "--ui", "console", "--lang", "de"]
            src_env = {**bare, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
            source = [sys.executable, "-m", "zvkdiag", "quicksupport", *opts]
            first = start_to_id([str(binary), *opts], bare)
            times: dict[str, list[float]] = {"binary": [], "source": []}
            for _ in range(args.runs):
                times["binary"].append(start_to_id([str(binary), *opts], bare))
                times["source"].append(start_to_id(source, src_env))
    finally:
        relay.terminate()
        relay.wait(10)
    size = binary.stat().st_size / 1e6
    b, s = statistics.median(times["binary"]), statistics.median(times["source"])
    print(f"binary {binary.name}: {size:.1f} MB")
    print(f"start to ID, first start of the binary after the build: {first:.2f} s")
    print(f"start to ID, median of {args.runs}: binary {b:.2f} s, source {s:.2f} s")
    print(f"ratio binary/source: {b / s:.2f}")


if __name__ == "__main__":
    main()
