"""Entry point of the one-file program: the options of ``zvkdiag quicksupport``, nothing else."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from zvkdiag._version import __version__
from zvkdiag.cli import setup_logging
from zvkdiag.quicksupport.options import add_options

__all__ = ["main"]

PROG = "zvk-quicksupport"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, description="ZVK Fernwartung: ID and password for the support engineer."
    )
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    add_options(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the customer program; returns the exit status."""
    args = _parser().parse_args(argv)
    setup_logging(args.verbose)
    from zvkdiag.quicksupport.app import run

    try:
        return run(args)
    except KeyboardInterrupt:
        return 130
