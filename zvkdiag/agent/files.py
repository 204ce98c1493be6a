"""File transfer on the customer's side: per-file consent, then a deny-by-default SFTP server.

The engineer first asks with an op (``file.download`` / ``file.upload``); the
customer sees name, size and direction.  Only then does the SFTP server open
exactly that one path, in that one direction; every other SFTP operation
(listing, removing, renaming, links, attributes) is refused.  Uploads land
under a temporary name and ``file.commit`` renames them after checking size and
SHA-256, so an interrupted transfer never leaves a partial file under the
final name.

A download is hashed while it is served: the SFTP server feeds the blocks it
reads, in file order, into the grant's SHA-256, and ``file.download`` sends
that digest on its still-open request channel once the engineer closes the
file.  The file is read once, and the digest covers exactly the bytes that
left the machine.  Reads out of order (another client) fall back to hashing
the file after the transfer; a file whose size or modification time changed
since the customer allowed it is reported as changed instead of hashed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import asyncssh
from asyncssh.constants import FXF_APPEND, FXF_CREAT, FXF_EXCL, FXF_READ, FXF_TRUNC, FXF_WRITE

from zvkdiag._errors import ProtocolError, TransferError
from zvkdiag._osflags import O_BINARY
from zvkdiag.agent.ops import OpContext, OpRegistry
from zvkdiag.consent.model import Scope
from zvkdiag.wire import requests

if TYPE_CHECKING:
    from zvkdiag.agent.session import AgentSession

__all__ = ["FileGrants", "GrantedSFTPServer", "register_all"]

MAX_FILE: Final = 4 * 1024**3
GRANT_LIFETIME: Final = 600.0
_HASH_CHUNK: Final = 1 << 20


@dataclass
class Grant:
    mode: str  # "r" (download) or "w" (upload to a temporary name)
    final: Path
    size: int
    sha256: str = ""
    bytes_moved: int = 0
    stamp: tuple[int, int] = (0, 0)  # (size, mtime_ns) when the customer allowed it
    served: hashlib._Hash = field(default_factory=hashlib.sha256)
    served_upto: int = 0  # the served hash covers [0, served_upto)
    in_order: bool = True
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def note_served(self, offset: int, data: bytes) -> None:
        """Hash a served block if it continues the file in order; else give up on it."""
        if self.in_order and offset == self.served_upto:
            self.served.update(data)
            self.served_upto += len(data)
        elif data:
            self.in_order = False


class FileGrants:
    """The paths the customer allowed in this session, one per consent."""

    def __init__(self) -> None:
        self.by_path: dict[bytes, Grant] = {}

    def add(self, path: Path, grant: Grant) -> None:
        self.by_path[os.fsencode(path)] = grant

    def get(self, path: bytes, mode: str) -> Grant:
        grant = self.by_path.get(path)
        if grant is None or grant.mode != mode:
            raise asyncssh.SFTPPermissionDenied("not allowed by the customer")
        return grant

    def pop(self, path: Path) -> Grant | None:
        return self.by_path.pop(os.fsencode(path), None)

    def cleanup(self) -> None:
        """Remove upload leftovers (temporary names only) when the session ends."""
        for raw, grant in list(self.by_path.items()):
            if grant.mode == "w":
                with contextlib.suppress(OSError):
                    os.unlink(raw)
        self.by_path.clear()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _resolve(text: str) -> Path:
    if not text or "\x00" in text or len(text) > 4096:
        raise ProtocolError("a file path is 1 to 4096 characters without NUL")
    return Path(os.path.expanduser(text)).resolve()


async def op_download(ctx: OpContext) -> int:
    path = _resolve(ctx.param("path", str))
    try:
        st = path.stat()
    except OSError as exc:
        raise TransferError(f"{path} cannot be read on the customer's PC: {exc.strerror}") from exc
    if not stat.S_ISREG(st.st_mode):
        raise TransferError(f"{path} is not a regular file")
    await ctx.require(
        ctx.request(Scope.FILE_DOWNLOAD, path=str(path), size=st.st_size),
        scope_label=f"file.download: {path}",
    )
    grant = Grant("r", path, st.st_size, stamp=(st.st_size, st.st_mtime_ns))
    _session(ctx).files.add(path, grant)
    ctx.audit("file.download.granted", path=str(path), size=st.st_size)
    await ctx.accept(path=str(path), name=path.name, size=st.st_size)
    if await _until_closed(ctx, grant):
        ctx.stdout.write(requests.ok_header(sha256=await _served_digest(path, grant)))
        await ctx.stdout.drain()
    return 0


async def _until_closed(ctx: OpContext, grant: Grant) -> bool:
    """Wait until the granted file was served and closed, or the engineer gave up the request."""
    closed = asyncio.ensure_future(grant.closed.wait())
    gone = asyncio.ensure_future(ctx.stdin.read(1))
    try:
        await asyncio.wait({closed, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        closed.cancel()
        gone.cancel()
    return grant.closed.is_set()


async def _served_digest(path: Path, grant: Grant) -> str:
    try:
        st = path.stat()
    except OSError as exc:
        raise TransferError(f"{path} vanished on the customer's PC during the transfer") from exc
    if (st.st_size, st.st_mtime_ns) != grant.stamp:
        raise TransferError(f"{path} changed on the customer's PC during the transfer")
    if grant.in_order and grant.served_upto == grant.size:
        return grant.served.hexdigest()
    return await asyncio.to_thread(_sha256, path)


async def op_upload(ctx: OpContext) -> int:
    target = _resolve(ctx.param("path", str))
    name = ctx.param("name", str)
    size = ctx.param("size", int)
    digest = ctx.param("sha256", str)
    if not name or "/" in name or "\\" in name or name in (".", "..") or "\x00" in name:
        raise ProtocolError("an upload needs a plain file name")
    if not 0 <= size <= MAX_FILE or len(digest) != 64:
        raise ProtocolError("an upload needs its size and SHA-256")
    final = target / name if target.is_dir() else target
    if not final.parent.is_dir():
        raise TransferError(f"the folder {final.parent} does not exist on the customer's PC")
    await ctx.require(
        ctx.request(Scope.FILE_UPLOAD, path=str(final), size=size),
        scope_label=f"file.upload: {final}",
    )
    temp = final.parent / f".{final.name}.zvkpart-{secrets.token_hex(4)}"
    _session(ctx).files.add(temp, Grant("w", final, size, digest))
    ctx.audit("file.upload.granted", path=str(final), size=size)
    await ctx.accept(temp=str(temp), path=str(final))
    return 0


async def op_commit(ctx: OpContext) -> int:
    temp = Path(ctx.param("temp", str))
    grant = _session(ctx).files.pop(temp)
    if grant is None or grant.mode != "w":
        raise TransferError("there is no upload of that name to finish")
    try:
        ok = (
            temp.stat().st_size == grant.size
            and await asyncio.to_thread(_sha256, temp) == grant.sha256
        )
    except OSError:
        ok = False
    if not ok:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise TransferError("the uploaded file arrived incomplete or altered; nothing was kept")
    os.replace(temp, grant.final)
    ctx.audit("file.upload.done", path=str(grant.final), bytes_received=grant.size)
    await ctx.accept(path=str(grant.final))
    return 0


def _session(ctx: OpContext) -> AgentSession:
    assert ctx.session is not None
    return ctx.session  # type: ignore[no-any-return]


class GrantedSFTPServer(asyncssh.SFTPServer):
    """SFTP that opens only granted paths, in the granted direction; all else is denied."""

    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], session: AgentSession) -> None:
        super().__init__(chan)
        self._session = session
        self._open: dict[int, tuple[Any, Grant]] = {}

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        if pflags & (FXF_APPEND | FXF_EXCL):
            raise asyncssh.SFTPPermissionDenied("not allowed by the customer")
        if pflags & FXF_WRITE:
            grant = self._session.files.get(path, "w")
            if pflags & FXF_READ:
                raise asyncssh.SFTPPermissionDenied("write-only")
            flags = os.O_WRONLY | os.O_CREAT | O_BINARY | (os.O_TRUNC if pflags & FXF_TRUNC else 0)
            fd = os.open(path, flags | getattr(os, "O_NOFOLLOW", 0), 0o600)
            f: Any = os.fdopen(fd, "wb")
        else:
            if not pflags & FXF_READ or pflags & (FXF_CREAT | FXF_TRUNC):
                raise asyncssh.SFTPPermissionDenied("not allowed by the customer")
            grant = self._session.files.get(path, "r")
            f = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._open[id(f)] = (f, grant)
        return f

    def read(self, file_obj: object, offset: int, size: int) -> bytes:
        f, grant = self._open[id(file_obj)]
        f.seek(offset)  # no os.pread on Windows; write() seeks the same way
        data: bytes = f.read(size)
        grant.bytes_moved += len(data)
        grant.note_served(offset, data)
        return data

    def write(self, file_obj: object, offset: int, data: bytes) -> int:
        f, grant = self._open[id(file_obj)]
        if offset + len(data) > grant.size:
            raise asyncssh.SFTPPermissionDenied("more data than the customer allowed")
        f.seek(offset)
        grant.bytes_moved += len(data)
        return int(f.write(data))

    def close(self, file_obj: object) -> None:
        f, grant = self._open.pop(id(file_obj))
        f.close()
        if grant.mode == "r":  # a download grant is good for one transfer
            self._session.files.pop(grant.final)
            self._session.audit("file.sent", path=str(grant.final), bytes_sent=grant.bytes_moved)
            grant.closed.set()

    def fstat(self, file_obj: object) -> os.stat_result:
        return os.fstat(self._open[id(file_obj)][0].fileno())

    def stat(self, path: bytes) -> os.stat_result:
        self._granted(path)
        return os.stat(path)

    lstat = stat

    def _granted(self, path: bytes) -> None:
        if path not in self._session.files.by_path:
            raise asyncssh.SFTPPermissionDenied("not allowed by the customer")

    def realpath(self, path: bytes) -> bytes:
        return path

    def _deny(self, *args: object, **kwargs: object) -> Any:
        raise asyncssh.SFTPPermissionDenied("not allowed by the customer")

    setstat = lsetstat = fsetstat = remove = mkdir = rmdir = rename = readlink = _deny
    symlink = link = posix_rename = statvfs = fstatvfs = lock = unlock = _deny
    scandir = _deny

    def exit(self) -> None:
        for f, _ in self._open.values():
            f.close()
        self._open.clear()


def register_all(registry: OpRegistry) -> None:
    registry.register("file.download", op_download)
    registry.register("file.upload", op_upload)
    registry.register("file.commit", op_commit)
