"""Names inside the case store: case IDs, table names, file names.

Every name that becomes part of a path is checked here first, so that no
input (a probe name, a file name the customer's PC reported, a case ID typed
into a notebook) can climb out of its folder or hide as a dotfile.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from zvkdiag._errors import CaseStoreError

__all__ = [
    "RESERVED_COLUMNS",
    "RESERVED_TABLES",
    "check_case_id",
    "check_file_name",
    "check_table_name",
    "new_case_id",
]

_ID_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud on the phone
_ID_RANDOM = 6
_CASE_ID = re.compile(r"\d{4}-\d{2}-\d{2}T\d{6}-[a-z0-9]{6}")
_TABLE = re.compile(r"[a-z][a-z0-9_]{0,62}")
_FILE_BAD = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
_MAX_FILE_NAME = 200

RESERVED_TABLES = frozenset({"cases", "findings", "audit"})
"""SQL view names the store defines itself; a table may not shadow them."""

RESERVED_COLUMNS = frozenset({"case_id", "collected_at"})
"""Columns the store adds; a probe table may not bring its own."""


def new_case_id(now: datetime) -> str:
    """``2026-11-25T142305-k3m9xq``: sorts by creation second, unique by the random tail."""
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H%M%S")
    tail = "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_RANDOM))
    return f"{stamp}-{tail}"


def check_case_id(case_id: str) -> str:
    """Return ``case_id`` if it has the shape :func:`new_case_id` makes, else raise."""
    if not isinstance(case_id, str) or not _CASE_ID.fullmatch(case_id):
        raise CaseStoreError(
            f"{case_id!r} is not a case ID (expected something like '2026-11-25T142305-k3m9xq')."
        )
    return case_id


def check_table_name(name: str) -> str:
    """Table names are SQL identifiers and file stems: lowercase letters, digits, ``_``."""
    if not isinstance(name, str) or not _TABLE.fullmatch(name):
        raise CaseStoreError(
            f"{name!r} cannot be a table name: use lowercase letters, digits and '_', "
            "starting with a letter, at most 63 characters."
        )
    if name in RESERVED_TABLES:
        raise CaseStoreError(f"{name!r} is reserved for the store's own SQL views.")
    return name


def check_file_name(name: str) -> str:
    """A plain file name: no folders, no dotfiles, no control or Windows-reserved characters."""
    if not isinstance(name, str) or not name or len(name) > _MAX_FILE_NAME:
        raise CaseStoreError(f"{name!r} cannot be a file name in a case (empty or too long).")
    if name.startswith(".") or name.strip() != name or _FILE_BAD.search(name):
        raise CaseStoreError(
            f"{name!r} cannot be a file name in a case: no folders, no leading dot or "
            'spaces, none of / \\ : * ? " < > | or control characters.'
        )
    return name
