"""Entry point of the Windows one-file build: ``zvk-quicksupport.exe [options]``.

The exe takes the options of ``zvkdiag quicksupport``.  Built with
``--noconsole`` it has no stdout; the machine-readable start lines (``ID:``,
``Password:``) go to the file named by ``ZVKDIAG_OUTPUT_FILE`` when set,
which is how the tests under Wine read what the program reports.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    output = os.environ.get("ZVKDIAG_OUTPUT_FILE")
    if output:
        stream = open(output, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        sys.stdout = sys.stderr = stream
    from zvkdiag.cli import main as cli_main

    return cli_main(["quicksupport", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
