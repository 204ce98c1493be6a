"""Wall time of all default probes on this machine (customer side), median of 5 runs.

Starts sleeping child processes until ~400 processes run (and removes them
afterwards), then runs ``run_probes()`` -- collection, normalisation and
encoding, i.e. everything the customer's machine does before sending.

    .venv/bin/python bench/probes_bench.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

import psutil

from zvkdiag.probes.runner import run_probes
from zvkdiag.probes.wire import encode_result

TARGET_PROCESSES = 400
RUNS = 5
TARGET_SECONDS = 1.5


def start_sleepers() -> list[subprocess.Popen[bytes]]:
    missing = max(0, TARGET_PROCESSES - len(psutil.pids()))
    return [subprocess.Popen(["sleep", "600"]) for _ in range(missing)]


def one_run() -> tuple[float, dict[str, float], dict[str, int]]:
    start = time.perf_counter()
    results = run_probes()
    sizes = {name: len(encode_result(result)) for name, result in results.items()}
    total = time.perf_counter() - start
    return total, {n: r.elapsed for n, r in results.items()}, sizes


def main() -> int:
    sleepers = start_sleepers()
    try:
        processes = len(psutil.pids())
        one_run()  # warm-up: imports, page cache
        runs = [one_run() for _ in range(RUNS)]
    finally:
        for child in sleepers:
            child.kill()
        for child in sleepers:
            child.wait()
    totals = [r[0] for r in runs]
    print(f"processes running: {processes}; runs: {RUNS} (median shown)")
    print(f"{'probe':<18} {'wall s':>8} {'bytes':>9}")
    for name in sorted(runs[0][1]):
        median = statistics.median(r[1][name] for r in runs)
        print(f"{name:<18} {median:8.3f} {runs[-1][2][name]:9d}")
    total = statistics.median(totals)
    print(f"{'TOTAL (concurrent)':<18} {total:8.3f}   min {min(totals):.3f}  max {max(totals):.3f}")
    verdict = "met" if total <= TARGET_SECONDS else "MISSED"
    print(f"target: all default probes <= {TARGET_SECONDS} s wall -> {verdict} ({total:.3f} s)")
    return 0 if total <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
