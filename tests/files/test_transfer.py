"""File transfer with per-file consent over the real relay, agent and SFTP."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import asyncssh
import pytest

import zvkdiag
from zvkdiag.consent.model import Scope
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture
def session(agent: AgentThread, relay: RelayThread):  # type: ignore[no-untyped-def]
    with zvkdiag.connect(agent.session_id, agent.password, relay=relay.address, engineer="E") as s:
        yield s


def test_download_and_upload_round_trip(session, consent: AutoConsent, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "kunde" / "log.txt"
    src.parent.mkdir()
    src.write_bytes(os.urandom(3_000_000))
    dest = tmp_path / "case-files"
    dest.mkdir()
    got = session.download(str(src), dest, progress=False)
    assert got == dest / "log.txt" and _sha(got) == _sha(src)
    remote = session.upload(got, str(src.parent / "sub" if False else tmp_path), progress=False)
    assert Path(remote) == tmp_path / "log.txt" and _sha(Path(remote)) == _sha(src)
    scopes = [(q.scope, q.detail.get("path"), q.detail.get("size")) for q in consent.requests[1:]]
    assert scopes == [
        (Scope.FILE_DOWNLOAD, str(src), 3_000_000),
        (Scope.FILE_UPLOAD, str(tmp_path / "log.txt"), 3_000_000),
    ]
    assert not [p for p in tmp_path.rglob("*zvkpart*")]


def test_denied_download_leaves_nothing(relay: RelayThread, tmp_path: Path) -> None:
    src = tmp_path / "secret.txt"
    src.write_text("x")
    with (
        AgentThread(AutoConsent(deny={"file.download"}), relay=relay.address) as a,
        zvkdiag.connect(a.session_id, a.password, relay=relay.address, engineer="E") as s,
    ):
        out = tmp_path / "out"
        out.mkdir()
        with pytest.raises(zvkdiag.ConsentDenied, match="declined"):
            s.download(str(src), out)
        assert list(out.iterdir()) == []


def test_sftp_is_refused_without_a_grant(session) -> None:  # type: ignore[no-untyped-def]
    async def start() -> None:
        async with session.sftp():
            pass

    with pytest.raises(asyncssh.Error):
        session.call(start())


def test_sftp_with_a_grant_can_do_nothing_else(session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a.txt").write_text("a")
    session.call(session.open_op("file.download", path=str(tmp_path / "a.txt"))).close()
    a, b = str(tmp_path / "a.txt"), str(tmp_path / "b.txt")

    async def attempts() -> list[str]:
        results = []
        async with session.sftp() as sftp:
            for coro in (
                sftp.listdir(str(tmp_path)),
                sftp.remove(a),
                sftp.rename(a, b),
                sftp.get("/etc/hostname", str(tmp_path / "h")),
                sftp.put(a, b),
                sftp.mkdir(str(tmp_path / "d")),
                sftp.symlink("/etc", str(tmp_path / "l")),
                sftp.chmod(a, 0o777),
                sftp.open(a, "ab"),
            ):
                try:
                    await coro
                    results.append("ALLOWED")
                except asyncssh.SFTPError:
                    results.append("denied")
        return results

    assert session.call(attempts()) == ["denied"] * 9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 != 0o777


def test_download_grant_covers_one_path_once(session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    granted = tmp_path / "granted.txt"
    granted.write_text("ok")
    other = tmp_path / "other.txt"
    other.write_text("nope")
    chan = session.call(session.open_op("file.download", path=str(granted)))
    chan.close()

    async def steal() -> list[str]:
        out = []
        async with session.sftp() as sftp:
            for path in (str(other), str(granted), str(granted)):
                try:
                    async with sftp.open(path, "rb") as f:
                        out.append((await f.read()).decode())
                except asyncssh.SFTPError:
                    out.append("denied")
        return out

    assert session.call(steal()) == ["denied", "ok", "denied"]


def test_bad_paths_get_clear_errors(session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(zvkdiag.TransferError, match="not a regular file"):
        session.download(str(tmp_path), tmp_path)
    with pytest.raises(zvkdiag.TransferError, match="cannot be read"):
        session.download(str(tmp_path / "missing"), tmp_path)
    with pytest.raises(zvkdiag.TransferError, match="is not a folder"):
        session.download("/etc/hostname", tmp_path / "missing-dir")
    f = tmp_path / "f.txt"
    f.write_text("x")
    with pytest.raises(zvkdiag.TransferError, match="does not exist"):
        session.upload(f, str(tmp_path / "no" / "such" / "dir" / "x"))


def test_interrupted_upload_leaves_no_partial_file_and_retry_works(
    agent: AgentThread, relay: RelayThread, tmp_path: Path
) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(120_000_000))
    dest = tmp_path / "dest"
    dest.mkdir()
    first = agent.password
    s = zvkdiag.connect(agent.session_id, first, relay=relay.address, engineer="E")
    box: dict[str, object] = {}

    def go() -> None:
        try:
            box["ok"] = s.upload(src, str(dest), progress=False)
        except zvkdiag.ZvkdiagError as exc:
            box["error"] = exc

    t = threading.Thread(target=go)
    t.start()
    deadline = time.monotonic() + 20
    while not list(dest.glob(".*zvkpart*")) and time.monotonic() < deadline and t.is_alive():
        time.sleep(0.005)
    agent.agent.end_session()
    t.join(20)
    assert isinstance(box.get("error"), zvkdiag.SessionClosed), box
    s.close()
    time.sleep(0.3)
    assert list(dest.iterdir()) == []  # no final name, temporary name cleaned up
    second = agent.fresh_password(first)
    with zvkdiag.connect(agent.session_id, second, relay=relay.address, engineer="E") as s2:
        final = Path(s2.upload(src, str(dest), progress=False))
    assert _sha(final) == _sha(src) and list(dest.iterdir()) == [final]


def test_download_without_pread_as_on_windows(  # type: ignore[no-untyped-def]
    session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Windows' os module has no pread; the agent reads in this process, so it sees the same os
    monkeypatch.delattr(os, "pread")
    src = tmp_path / "kunde.bin"
    src.write_bytes(os.urandom(300_000))
    dest = tmp_path / "case-files"
    dest.mkdir()
    assert _sha(session.download(str(src), dest, progress=False)) == _sha(src)
