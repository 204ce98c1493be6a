"""The settings both customer builds bake in: relay address and the CA public key.

``packaging/build_onefile.py`` (Linux) and ``packaging/windows/build.py`` (the
exe) take the same options (``--relay``, ``--ca-key``; or ``ZVK_RELAY`` and
``ZVK_CA_KEY``), check them here and put the same ``builtin.json`` into the
bundle beside ``zvkdiag/quicksupport/builtin.py``, which reads it at start.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from zvkdiag._errors import ZvkdiagError  # noqa: E402
from zvkdiag.quicksupport.builtin import FILE_NAME, BuiltIn, load_builtin  # noqa: E402

__all__ = [
    "BUNDLE_DIR",
    "BuiltIn",
    "ZvkdiagError",
    "add_options",
    "checked_json",
    "from_options",
    "write",
]

BUNDLE_DIR: Final = "zvkdiag/quicksupport"
"""Where ``builtin.json`` goes inside the bundle (the package that reads it)."""


def add_options(parser: argparse.ArgumentParser) -> None:
    """``--relay`` and ``--ca-key``, defaulting to ``ZVK_RELAY`` and ``ZVK_CA_KEY``."""
    parser.add_argument("--relay", default=os.environ.get("ZVK_RELAY") or None)
    parser.add_argument(
        "--ca-key", default=os.environ.get("ZVK_CA_KEY") or None, help="a .pub file"
    )


def from_options(args: argparse.Namespace) -> BuiltIn:
    ca_key = Path(args.ca_key).read_text(encoding="utf-8") if args.ca_key else None
    return BuiltIn(args.relay, ca_key)


def checked_json(builtin: BuiltIn) -> str:
    """``builtin.json``'s text; a broken key fails here, not at the customer's."""
    raw = builtin.to_json()
    load_builtin(raw).trust()
    return raw


def write(raw: str, folder: Path) -> Path:
    """``folder/builtin.json`` holding ``raw``; returns its path."""
    path = folder / FILE_NAME
    path.write_text(raw, encoding="utf-8")
    return path
