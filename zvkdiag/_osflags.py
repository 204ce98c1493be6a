"""``os.open`` flags that mean the same on every platform."""

from __future__ import annotations

import os
from typing import Final

__all__ = ["O_BINARY"]

O_BINARY: Final[int] = getattr(os, "O_BINARY", 0)
"""Windows opens a descriptor in text mode unless told otherwise: each ``b"\\n"`` written
becomes ``b"\\r\\n"`` (it broke the audit log's hash chain at every second start, and would
alter uploaded files and random keys).  0 elsewhere."""
