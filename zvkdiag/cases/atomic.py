"""Atomic file writes: a crash leaves the old file or the new one, never half of either.

Every write goes to a temporary file in the *same* folder (so the final
``os.replace`` is a rename within one filesystem, which POSIX makes atomic),
is flushed and fsynced, renamed over the final name, and then the folder
itself is fsynced so the rename survives a power cut as well.

Temporary names all start with :data:`TEMP_PREFIX`.  Readers skip them
(:func:`is_temp_name`); the case store removes leftovers from a killed process
(:func:`sweep_temp`).  Names starting with a dot are never a case, a table or a
screenshot, so a reader that lists a folder cannot mistake a leftover for data.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "TEMP_GRACE_SECONDS",
    "TEMP_PREFIX",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_writer",
    "fsync_dir",
    "is_temp_name",
    "sweep_temp",
    "temp_sibling",
]

TEMP_PREFIX = ".zvk-tmp-"
"""Every temporary file or folder the case store creates starts with this."""

TEMP_GRACE_SECONDS = 600.0
"""Leftovers younger than this may belong to a writer that is still running."""


def is_temp_name(name: str) -> bool:
    """True for names a reader must skip: our temporaries and any other hidden entry."""
    return name.startswith(".")


def temp_sibling(path: Path) -> Path:
    """A fresh temporary name next to ``path`` (same folder, so rename stays atomic)."""
    return path.with_name(f"{TEMP_PREFIX}{secrets.token_hex(6)}-{path.name}")


def fsync_dir(folder: Path) -> None:
    """Make renames and new entries in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: Path, *, overwrite: bool = True) -> Iterator[BinaryIO]:
    """Yield a binary file; on a clean exit it becomes ``path`` in one step.

    On an exception the temporary file is removed and ``path`` is untouched.
    With ``overwrite=False`` an existing ``path`` raises ``FileExistsError``
    (the temporary file is hard-linked, which fails atomically if the name is taken).
    """
    tmp = temp_sibling(path)
    try:
        with open(tmp, "xb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
            os.unlink(tmp)
        fsync_dir(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def atomic_write_bytes(path: Path, data: bytes, *, overwrite: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically and return ``path``."""
    with atomic_writer(path, overwrite=overwrite) as fh:
        fh.write(data)
    return path


def atomic_write_json(path: Path, obj: object) -> Path:
    """Write ``obj`` as pretty, UTF-8 JSON, atomically."""
    text = json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    return atomic_write_bytes(path, text.encode("utf-8"))


def sweep_temp(folder: Path, *, grace: float = TEMP_GRACE_SECONDS) -> list[Path]:
    """Remove our leftovers below ``folder`` older than ``grace`` seconds; return them.

    Age is judged from the file's mtime against the wall clock on purpose: it
    is a fact of the filesystem, not of the business clock a test may fix.
    """
    cutoff = time.time() - grace
    removed: list[Path] = []
    for entry in _walk_temp(folder):
        try:
            if entry.lstat().st_mtime > cutoff:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except FileNotFoundError:
            continue
        removed.append(entry)
    return removed


def _walk_temp(folder: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(folder):
        base = Path(dirpath)
        for name in [*filenames, *dirnames]:
            if name.startswith(TEMP_PREFIX):
                yield base / name
        dirnames[:] = [d for d in dirnames if not d.startswith(TEMP_PREFIX)]
