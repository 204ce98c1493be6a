"""File transfer on the engineer's side: ask, then SFTP, then verify and rename atomically.

Downloads land under a temporary name in the target folder and are renamed
only after their SHA-256 matches what the customer's side announced; uploads
are renamed on the customer's side by ``file.commit`` after the same check.
An interrupted transfer leaves nothing under the final name and can simply
be retried.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import asyncssh

from zvkdiag._errors import SessionClosed, TransferError

if TYPE_CHECKING:
    from zvkdiag.engineer.session import Session

__all__ = ["BLOCK_SIZE", "MAX_REQUESTS", "download", "upload"]

BLOCK_SIZE: Final = 256 * 1024
MAX_REQUESTS: Final = 64
_CHUNK: Final = 1 << 20


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _progress(enabled: bool, total: int, desc: str) -> tuple[Callable[..., None] | None, Any]:
    if not enabled:
        return None, None
    from tqdm.auto import tqdm

    bar = tqdm(total=total, unit="B", unit_scale=True, desc=desc, leave=False)
    done = [0]

    def handler(_src: bytes, _dst: bytes, copied: int, _total: int) -> None:
        bar.update(copied - done[0])
        done[0] = copied

    return handler, bar


async def download(
    session: Session, remote: str, local_dir: str | os.PathLike[str], *, progress: bool = False
) -> Path:
    target_dir = Path(local_dir).expanduser()
    if not target_dir.is_dir():
        raise TransferError(f"{target_dir} is not a folder on this machine")
    chan = await session.open_op("file.download", path=str(remote))
    chan.close()
    name = Path(str(chan.header["name"])).name
    if not name or name in (".", ".."):
        raise TransferError("the customer's side sent an unusable file name")
    final = target_dir / name
    temp = target_dir / f".{name}.zvkpart-{secrets.token_hex(4)}"
    handler, bar = _progress(progress, int(chan.header["size"]), name)
    try:
        async with session.sftp() as sftp:
            await sftp.get(
                str(chan.header["path"]),
                str(temp),
                block_size=BLOCK_SIZE,
                max_requests=MAX_REQUESTS,
                progress_handler=handler,
            )
        if _sha256(temp) != chan.header["sha256"]:
            raise TransferError(f"{name} arrived altered (SHA-256 mismatch); nothing was kept")
        os.replace(temp, final)
    except (asyncssh.Error, OSError) as exc:
        raise _broken(session, exc, name) from exc
    finally:
        if bar is not None:
            bar.close()
        with contextlib.suppress(OSError):
            temp.unlink()
    return final


async def upload(
    session: Session, local: str | os.PathLike[str], remote_dir: str, *, progress: bool = False
) -> str:
    source = Path(local).expanduser()
    if not source.is_file():
        raise TransferError(f"{source} is not a file on this machine")
    size, digest = source.stat().st_size, _sha256(source)
    chan = await session.open_op(
        "file.upload", path=remote_dir, name=source.name, size=size, sha256=digest
    )
    chan.close()
    handler, bar = _progress(progress, size, source.name)
    try:
        async with session.sftp() as sftp:
            await sftp.put(
                str(source),
                str(chan.header["temp"]),
                block_size=BLOCK_SIZE,
                max_requests=MAX_REQUESTS,
                progress_handler=handler,
            )
    except (asyncssh.Error, OSError) as exc:
        raise _broken(session, exc, source.name) from exc
    finally:
        if bar is not None:
            bar.close()
    done = await session.open_op("file.commit", temp=chan.header["temp"])
    done.close()
    return str(done.header["path"])


def _broken(session: Session, exc: Exception, name: str) -> Exception:
    if session.closed:
        return SessionClosed(
            f"The session ended during the transfer of {name}; nothing partial was kept."
        )
    return TransferError(f"The transfer of {name} failed: {exc}; nothing partial was kept.")
