"""File transfer on the engineer's side: ask, then SFTP, then verify and rename atomically.

Downloads land under a temporary name in the target folder and are renamed
only after their SHA-256 matches what the customer's side reports; uploads
are renamed on the customer's side by ``file.commit`` after the same check.
An interrupted transfer leaves nothing under the final name and can simply
be retried.

A download is pipelined: up to ``MAX_REQUESTS`` SFTP reads are in flight,
blocks are taken in file order and handed to one worker thread that writes
and hashes them (both release the GIL), so hashing overlaps the network and
no second pass over the file is needed.  The customer's side hashes the
blocks as it serves them and sends the digest on the still-open
``file.download`` request once the file is closed: neither side reads the
file twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import asyncssh

from zvkdiag._errors import SessionClosed, TransferError
from zvkdiag.wire import requests

if TYPE_CHECKING:
    from zvkdiag.engineer.session import OpChannel, Session

__all__ = ["BLOCK_SIZE", "MAX_REQUESTS", "download", "upload"]

# 32 reads of 512 KiB in flight (16 MiB) keep the 8 MiB SSH window full; measured
# against 256 KiB x 64 and others in docs/benchmarks.md ("Probes and files").
BLOCK_SIZE: Final = 512 * 1024
MAX_REQUESTS: Final = 32
_CHUNK: Final = 1 << 20
_SINK_BACKLOG: Final = 32  # blocks queued for the writer thread (16 MiB) before reads wait


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
    try:
        return await _download(session, chan, target_dir, progress)
    finally:
        chan.close()


async def _download(session: Session, chan: OpChannel, target_dir: Path, progress: bool) -> Path:
    name = Path(str(chan.header["name"])).name
    if not name or name in (".", ".."):
        raise TransferError("the customer's side sent an unusable file name")
    size = int(chan.header["size"])
    final = target_dir / name
    temp = target_dir / f".{name}.zvkpart-{secrets.token_hex(4)}"
    handler, bar = _progress(progress, size, name)
    try:
        async with session.sftp() as sftp:
            digest = await _fetch(sftp, str(chan.header["path"]), temp, size, handler)
        if digest != await _announced_digest(chan):
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


async def _announced_digest(chan: OpChannel) -> str:
    """The customer's SHA-256 of what it served: in the header, or sent after the transfer."""
    if "sha256" in chan.header:
        return str(chan.header["sha256"])
    line = await chan.reader.readline()
    if not line:  # the agent reports a failure on stderr once the OK header is out
        line = await chan.process.stderr.readline()
    header = requests.parse_header(line)
    requests.raise_for_header(header)
    return str(header.get("sha256", ""))


class _HashingSink:
    """Writes blocks in order and hashes them, on one worker thread off the event loop."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("wb")
        self._hash = hashlib.sha256()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="zvkdiag-sink")
        self._queued: deque[asyncio.Future[None]] = deque()

    def _put(self, data: bytes) -> None:
        self._file.write(data)
        self._hash.update(data)

    async def write(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        self._queued.append(loop.run_in_executor(self._pool, self._put, data))
        while len(self._queued) > _SINK_BACKLOG or (self._queued and self._queued[0].done()):
            await self._queued.popleft()

    async def finish(self) -> str:
        while self._queued:
            await self._queued.popleft()
        return self._hash.hexdigest()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._file.close()


async def _fetch(
    sftp: asyncssh.SFTPClient,
    remote: str,
    temp: Path,
    size: int,
    handler: Callable[..., None] | None,
) -> str:
    """Copy ``size`` bytes of ``remote`` into ``temp``; return their SHA-256."""
    sink = _HashingSink(temp)
    pending: deque[tuple[int, int, asyncio.Future[bytes]]] = deque()
    try:
        async with sftp.open(remote, "rb", block_size=0) as f:
            offset = 0
            while offset < size or pending:
                while offset < size and len(pending) < MAX_REQUESTS:
                    n = min(BLOCK_SIZE, size - offset)
                    pending.append((offset, n, asyncio.ensure_future(f.read(n, offset))))
                    offset += n
                start, n, request = pending.popleft()
                await sink.write(await _complete(f, start, n, await request))
                if handler is not None:
                    handler(b"", b"", start + n, size)
        return await sink.finish()
    finally:
        for _, _, request in pending:
            request.cancel()
        sink.close()


async def _complete(f: asyncssh.SFTPClientFile, start: int, n: int, data: bytes) -> bytes:
    """Re-ask for the rest of a short read (a server may cap its read size)."""
    while len(data) < n:
        more: bytes = await f.read(n - len(data), start + len(data))
        if not more:
            raise TransferError("the file ended early on the customer's side")
        data += more
    return data


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
