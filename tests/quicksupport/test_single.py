"""One program per user: the real lock file and the real local channel, in one process."""

from __future__ import annotations

import socket
import stat
import threading
from pathlib import Path

import pytest

from zvkdiag.quicksupport import single
from zvkdiag.quicksupport.paths import instance_address


def test_second_claim_finds_the_first_and_wakes_it(tmp_path: Path) -> None:
    first = single.claim(tmp_path)
    assert first is not None
    woken = threading.Event()
    try:
        first.serve(woken.set)
        assert single.claim(tmp_path) is None
        assert single.wake_first(tmp_path)
        assert woken.is_set()
    finally:
        first.close()
    again = single.claim(tmp_path)  # the lock went with the first
    assert again is not None
    again.close()


def test_the_channel_is_a_unix_socket_only_the_user_can_use(tmp_path: Path) -> None:
    first = single.claim(tmp_path)
    assert first is not None
    try:
        address, family = instance_address(tmp_path)
        assert family == "AF_UNIX"
        assert stat.S_ISSOCK(Path(address).stat().st_mode)
        key = tmp_path / single.KEY_NAME
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    finally:
        first.close()


def test_a_caller_without_the_key_changes_nothing(tmp_path: Path) -> None:
    first = single.claim(tmp_path)
    assert first is not None
    woken = threading.Event()
    try:
        first.serve(woken.set)
        address, _ = instance_address(tmp_path)
        with socket.socket(socket.AF_UNIX) as sock:  # a stranger: no handshake, just bytes
            sock.connect(address)
            sock.sendall(b"front\n" * 100)
        assert single.wake_first(tmp_path)  # the channel outlived the stranger
        woken.clear()
        (tmp_path / single.KEY_NAME).write_bytes(b"wrong key")
        assert not _wake_once(tmp_path)
        assert not woken.is_set()
    finally:
        first.close()


def _wake_once(folder: Path) -> bool:
    tries = single.WAKE_TRIES
    single.WAKE_TRIES = 1  # type: ignore[misc]
    try:
        return single.wake_first(folder)
    finally:
        single.WAKE_TRIES = tries  # type: ignore[misc]


def test_a_stale_socket_from_a_crash_is_replaced(tmp_path: Path) -> None:
    address, _ = instance_address(tmp_path)
    Path(address).write_bytes(b"")  # what a killed first start leaves behind
    first = single.claim(tmp_path)
    assert first is not None
    woken = threading.Event()
    try:
        first.serve(woken.set)
        assert single.wake_first(tmp_path)
    finally:
        first.close()


def test_an_unusable_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(single.ZvkdiagError, match="per-user folder"):
        single.claim(blocker / "zvkdiag")
