"""The Xvfb helper every screen, Tk and browser test stands on."""

from __future__ import annotations

import os
import threading
import time

import mss
import pytest

from zvkdiag.testing.xvfb import _read_display, xvfb


def test_display_written_in_two_pieces_is_read_whole() -> None:
    # Xvfb writes the number and the newline separately. With a file shared
    # with the reader, a read between the two once lost the number (CI, stop 11).
    read_end, write_end = os.pipe()

    def write() -> None:
        os.write(write_end, b"17")
        time.sleep(0.05)
        os.write(write_end, b"\n")

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert _read_display(read_end, 5) == "17"
    finally:
        writer.join()
        os.close(read_end)
        os.close(write_end)


def test_server_that_exits_at_start_is_reported() -> None:
    read_end, write_end = os.pipe()
    os.close(write_end)
    try:
        with pytest.raises(RuntimeError, match="exited at start"):
            _read_display(read_end, 5)
    finally:
        os.close(read_end)


def test_server_that_stays_silent_times_out() -> None:
    read_end, write_end = os.pipe()
    try:
        with pytest.raises(RuntimeError, match=r"within 0\.1 s"):
            _read_display(read_end, 0.1)
    finally:
        os.close(read_end)
        os.close(write_end)


def test_garbage_is_not_a_display() -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, b"\n")
    try:
        with pytest.raises(RuntimeError, match="no display number"):
            _read_display(read_end, 5)
    finally:
        os.close(read_end)
        os.close(write_end)


def test_servers_started_in_a_row_each_accept_clients() -> None:
    for _ in range(20):
        with xvfb(320, 200) as server, mss.MSS(display=server.display) as grab:
            shot = grab.grab(grab.monitors[1])
            assert (shot.width, shot.height) == (320, 200)
