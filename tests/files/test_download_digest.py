"""The download digest: hashed while served, sent after the transfer, checked before the rename."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

import zvkdiag
from zvkdiag.consent.model import ConsentRequest, Scope
from zvkdiag.engineer.files import BLOCK_SIZE
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread
from zvkdiag.wire import requests


@pytest.fixture
def session(agent: AgentThread, relay: RelayThread):  # type: ignore[no-untyped-def]
    with zvkdiag.connect(agent.session_id, agent.password, relay=relay.address, engineer="E") as s:
        yield s


def test_empty_and_odd_sized_files_arrive_whole(session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    out.mkdir()
    for name, size in (("empty.bin", 0), ("odd.bin", 3 * BLOCK_SIZE + 17)):
        src = tmp_path / name
        src.write_bytes(os.urandom(size))
        got = session.download(str(src), out, progress=False)
        assert got.read_bytes() == src.read_bytes()
    assert sorted(p.name for p in out.iterdir()) == ["empty.bin", "odd.bin"]


def test_a_file_changed_after_consent_never_lands(relay: RelayThread, tmp_path: Path) -> None:
    src = tmp_path / "growing.log"
    src.write_bytes(b"x" * 100_000)

    def append_then_allow(request: ConsentRequest) -> bool:
        if request.scope is Scope.FILE_DOWNLOAD:
            with src.open("ab") as f:  # the file changes while the customer decides
                f.write(b"more")
        return True

    out = tmp_path / "out"
    out.mkdir()
    with (
        AgentThread(AutoConsent(append_then_allow), relay=relay.address) as a,
        zvkdiag.connect(a.session_id, a.password, relay=relay.address, engineer="E") as s,
    ):
        with pytest.raises(zvkdiag.TransferError, match="changed on the customer's PC"):
            s.download(str(src), out, progress=False)
    assert list(out.iterdir()) == []


def test_reads_out_of_order_still_get_the_files_digest(session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "data.bin"
    src.write_bytes(os.urandom(5 * 4096))
    chan = session.call(session.open_op("file.download", path=str(src)))

    async def backwards_then_digest() -> tuple[bytes, str]:
        async with session.sftp() as sftp, sftp.open(str(src), "rb", block_size=0) as f:
            blocks = [await f.read(4096, off) for off in range(4 * 4096, -1, -4096)]
        header = requests.parse_header(await chan.reader.readline())
        return b"".join(reversed(blocks)), str(header["sha256"])

    data, digest = session.call(backwards_then_digest())
    chan.close()
    assert data == src.read_bytes()
    assert digest == hashlib.sha256(src.read_bytes()).hexdigest()


def test_one_session_carries_many_downloads_larger_than_the_window(session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Flow control with the 8 MiB window and 256 KiB packets holds up over many transfers."""
    from zvkdiag.wire.ssh import CHANNEL_WINDOW

    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(CHANNEL_WINDOW + 3 * BLOCK_SIZE + 5))
    want = hashlib.sha256(src.read_bytes()).hexdigest()
    out = tmp_path / "out"
    out.mkdir()
    for i in range(12):
        got = session.download(str(src), out, progress=False)
        assert hashlib.sha256(got.read_bytes()).hexdigest() == want, f"download {i}"
        got.unlink()
        assert session.run(["echo", str(i)]).stdout.strip() == str(i)
