"""Entry point of the Windows one-file build: ``zvk-quicksupport.exe [options]``.

The exe takes the options of ``zvkdiag quicksupport``.  Built with
``--noconsole`` it has no stdout; the machine-readable start lines (``ID:``,
``Password:``) go to the file named by ``ZVKDIAG_OUTPUT_FILE`` when set,
which is how the tests under Wine read what the program reports.  With
``ZVKDIAG_START_TIMES=1`` it also writes ``Python main: <epoch seconds>`` when
this script starts (after the bootloader's unpack and Python's start), for
bench/windows_bench.py's breakdown of the start time.
"""

from __future__ import annotations

import os
import sys
import time


def main() -> int:
    entered = time.time()
    output = os.environ.get("ZVKDIAG_OUTPUT_FILE")
    if output:
        stream = open(output, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        sys.stdout = sys.stderr = stream
        if os.environ.get("ZVKDIAG_START_TIMES") == "1":
            print(f"Python main: {entered:.3f}")
    from zvkdiag.cli import main as cli_main

    return cli_main(["quicksupport", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
