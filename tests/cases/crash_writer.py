"""Run as a subprocess by test_atomic: keep appending a big table until killed.

Usage: ``crash_writer.py <store root> <small rows> <big rows>``.  Prints the
case ID, then rewrites ``tables/big.parquet`` over and over so the parent can
SIGKILL it while a write is in progress.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from zvkdiag.cases import CaseStore


def main(root: str, small_rows: int, big_rows: int) -> None:
    case = CaseStore(root).new_case(reference="crash", engineer="Test")
    small = pd.DataFrame({"n": np.arange(small_rows), "x": np.zeros(small_rows), "s": "a"})
    case.add_table("big", small)
    print(case.case_id, flush=True)
    rng = np.random.default_rng(0)
    big = pd.DataFrame(
        {
            "n": np.arange(big_rows),
            "x": rng.random(big_rows),
            "s": pd.Series(rng.integers(0, 50, big_rows)).map("item{}".format),
        }
    )
    while True:
        case.add_table("big", big)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
