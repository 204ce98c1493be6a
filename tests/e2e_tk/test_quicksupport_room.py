"""The composed customer program on Xvfb: one window per user, "Erneut versuchen" while the
relay is away, a damaged audit log kept aside.  Real processes, driven with xdotool and mss."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import numpy as np
import pytest

from zvkdiag.consent import tk_theme as theme
from zvkdiag.consent.audit import read_records, verify
from zvkdiag.consent.messages import network_text, text
from zvkdiag.consent.model import RouteChosen
from zvkdiag.testing.fakes import RelayThread
from zvkdiag.testing.procs import Proc, end

from .conftest import EXIT_WAIT, ID_LINE, StartCustomer
from .driver import MAIN, WAIT, Screen, colour_share, ink, same_ink, until, white_boxes
from .reference import Ink, Reference

pytestmark = pytest.mark.x11

RETRY: Final = 1
"""Index of "Erneut versuchen" in the main window's button row while it is offered."""
COVER: Final = """
import sys, tkinter as tk
root = tk.Tk(screenName=sys.argv[1])
root.overrideredirect(True)
root.geometry(f"{root.winfo_screenwidth()}x{root.winfo_screenheight()}+0+0")
root.configure(background="#000000")
root.update()
print("up", flush=True)
root.mainloop()
"""


@pytest.fixture
def cover(screen: Screen) -> Iterator[subprocess.Popen[str]]:
    """Another program's window over the whole screen (what the customer has open)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", COVER, screen.display], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
        yield proc
    finally:
        end(proc, EXIT_WAIT)


def band_share(screen: Screen) -> float:
    """Share of the title band's blue in the main window's area of the screen."""
    main = screen.window(MAIN)
    return colour_share(screen.grab_window(main), theme.BAND)


def test_second_start_brings_the_first_window_forward_instead_of_a_second_id(
    screen: Screen, start_customer: StartCustomer, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    first = start_customer()
    until(lambda: band_share(screen) > 0.05, WAIT, "the main window with its blue band")
    request.getfixturevalue("cover")
    until(lambda: band_share(screen) == 0.0, WAIT, "the other program covers the window")
    second = Proc(
        "quicksupport", "--relay", "127.0.0.1:9", "--ui", "tk", "--lang", "de",
        env={"DISPLAY": screen.display, "XDG_DATA_HOME": str(tmp_path)},
    )  # fmt: skip
    try:
        second.expect(text("instance.running", "de").split(".")[0], WAIT)
        assert second.proc.wait(EXIT_WAIT) == 0
    finally:
        second.stop()
    assert not any(line.startswith("ID:") for line in second.seen)
    until(lambda: band_share(screen) > 0.05, WAIT, "the first window in front again")
    assert len(screen.windows(MAIN)) == 1
    assert first.proc.proc.poll() is None  # the first one goes on, with its ID


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def notice_ink(screen: Screen) -> Ink:
    """Ink of the rows of the main window that hold the red notice."""
    pixels = screen.grab_window(screen.window(MAIN)).astype(int)
    red = (pixels[:, :, 0] > 150) & (pixels[:, :, 1] < 90) & (pixels[:, :, 2] < 90)
    rows = np.flatnonzero(red.any(axis=1))
    if rows.size == 0:
        return ink(pixels[:0].astype(np.uint8))
    return ink(pixels[rows[0] : rows[-1] + 1].astype(np.uint8))


def test_no_relay_says_so_and_try_again_reaches_it_once_it_is_there(
    screen: Screen, reference: Reference, tmp_path: Path
) -> None:
    address = f"127.0.0.1:{_free_port()}"
    customer = Proc(
        "quicksupport", "--relay", address, "--ui", "tk", "--lang", "de",
        env={"DISPLAY": screen.display, "XDG_DATA_HOME": str(tmp_path)},
    )  # fmt: skip
    relay: Proc | None = None
    try:
        customer.expect(rf"^Network: .*{address}", WAIT)
        buttons: list[tuple[int, int]] = []

        def three_buttons() -> bool:
            buttons[:] = screen.buttons(screen.window(MAIN))
            return len(buttons) == 3

        until(three_buttons, WAIT, '"Protokoll öffnen", "Erneut versuchen", "Beenden"')
        said = text("net.unreachable", "de", relay=address)
        want = reference.notice(said)
        until(lambda: same_ink(notice_ink(screen), want), WAIT, f"the window shows {said!r}")
        assert "Traceback" not in "\n".join(customer.seen)
        log = tmp_path / "zvkdiag" / "audit.jsonl"

        def kinds() -> list[str]:
            return [r["kind"] for r in read_records(log)]

        # clicked while the relay is still away: the click reaches the program, the
        # message and the button stay (the program keeps trying on its own as well)
        screen.press(MAIN, RETRY, 3)
        until(lambda: "retry" in kinds(), WAIT, "the click reaches the program")
        assert len(screen.buttons(screen.window(MAIN))) == 3
        relay = Proc("relay", "--listen", address)
        relay.expect(address.split(":")[1], WAIT)
        customer.expect(ID_LINE, WAIT)
        until(lambda: len(screen.buttons(screen.window(MAIN))) == 2, WAIT, "no retry button")
        assert kinds().index("network-problem") < kinds().index("retry") < kinds().index("route")
    finally:
        customer.stop()
        if relay is not None:
            relay.stop()


def test_a_damaged_audit_log_is_kept_aside_and_the_window_says_so(
    screen: Screen,
    reference: Reference,
    start_customer: StartCustomer,
    relay: RelayThread,
    tmp_path: Path,
) -> None:
    log = tmp_path / "zvkdiag" / "audit.jsonl"
    log.parent.mkdir(parents=True)
    damaged = b'{"seq": 1, "kind": "code"}\n\x00\xffnot json at all\n'
    log.write_bytes(damaged)
    customer = start_customer()
    (aside,) = log.parent.glob("audit.jsonl.damaged-*")
    assert aside.read_bytes() == damaged
    assert verify(customer.audit_path).ok
    assert read_records(customer.audit_path)[0]["kind"] == "audit-set-aside"
    said = text("audit.set_aside", "de", name=aside.name)
    route = network_text(RouteChosen("tcp", relay.address), "de")
    main = screen.window(MAIN)

    def area_width() -> int:
        boxes = white_boxes(screen.grab_window(main))
        return boxes[2].shape[1] if len(boxes) == 3 else 0

    until(lambda: area_width() > 0, WAIT, "the message area")
    want = reference.message(f"{said}\n{route}", area_width())

    def shows() -> bool:
        return same_ink(ink(white_boxes(screen.grab_window(main))[2]), want)

    until(shows, WAIT, f"the window shows {said!r}")
