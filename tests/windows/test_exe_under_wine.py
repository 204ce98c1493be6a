"""The Windows exe under Wine on Xvfb, met as a customer meets it; an engineer on Linux.

What this proves and what it does not: docs/windows.md ("What the Wine tests prove").
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import pytest
from e2e_tk.driver import DIALOG, INDICATOR, MAIN, WAIT, Screen, until, white_boxes

import zvkdiag
from zvkdiag.wire.codes import PASSWORD_ALPHABET

from .conftest import HEIGHT, WIDTH, Customer

pytestmark = [pytest.mark.wine, pytest.mark.x11, pytest.mark.timeout(1800)]

ALLOW: Final = 0
END: Final = 1
"""Index of "Beenden" in the main window's button row ("Protokoll öffnen", "Beenden")."""
ANSWER: Final = 60.0
ENGINEER: Final = "Erika Muster"
NOTEPAD: Final = r"Notepad|Editor"


def ocr(pixels: np.ndarray[Any, Any], tmp: Path, *, digits: bool) -> str:
    """Text of a white box by tesseract (scaled up 2x), limited to the characters it may hold."""
    from PIL import Image

    image = Image.fromarray(pixels).convert("L")
    image = image.resize((image.width * 2, image.height * 2), Image.Resampling.LANCZOS)
    path = tmp / "box.png"
    image.save(path)
    chars = "0123456789 " if digits else PASSWORD_ALPHABET + "-"
    done = subprocess.run(
        ["tesseract", str(path), "-", "--psm", "7", "-c", f"tessedit_char_whitelist={chars}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def allow(desktop: Screen) -> None:
    desktop.press(DIALOG, ALLOW, 2)
    desktop.gone(DIALOG)


def test_customer_session_under_wine(
    desktop: Screen, customer: Customer, relay: str, wine_env: Any, tmp_path: Path
) -> None:
    if shutil.which("tesseract") is None:
        pytest.skip("needs tesseract-ocr (scripts/install-system.sh)")
    # 1. The window shows the ID and password the program reports
    main = desktop.window(MAIN, timeout=60)
    boxes: list[np.ndarray[Any, Any]] = []

    shown: list[str] = []

    def drawn() -> bool:
        # The window is drawn before the agent has its ID (the boxes are empty then),
        # and Tk draws the content after the window is mapped: wait for the ID's digits
        boxes[:] = white_boxes(desktop.grab_window(main))
        if len(boxes) != 3:
            return False
        # (read again on a miss: tesseract now and then takes an "8" for an "s")
        shown[:] = [ocr(boxes[0], tmp_path, digits=True), ocr(boxes[1], tmp_path, digits=False)]
        return re.sub(r"\D", "", shown[0]) == customer.session_id.replace(" ", "") and (
            shown[1].replace(" ", "") == customer.password
        )

    with contextlib.suppress(AssertionError):  # the asserts below say what differs
        until(drawn, WAIT, "the window shows the reported ID and password")
    assert len(boxes) == 3, "the ID, password and message boxes in the main window"
    shown_id, shown_password = shown
    assert re.sub(r"\D", "", shown_id) == customer.session_id.replace(" ", "")
    assert shown_password.replace(" ", "") == customer.password

    # 2. An engineer connects through the relay process; the customer clicks "Erlauben"
    pool = ThreadPoolExecutor(max_workers=2)
    pending = pool.submit(
        zvkdiag.connect, customer.session_id, customer.password, relay=relay, engineer=ENGINEER
    )
    allow(desktop)
    session = pending.result(ANSWER)
    try:
        desktop.window(INDICATOR)
        # 3. screenshot() is the Wine desktop, pixel for pixel
        shot_pending = pool.submit(session.screenshot)
        allow(desktop)  # screen.view
        shot = np.asarray(shot_pending.result(ANSWER).convert("RGB"))
        grab = desktop.grab(0, 0, WIDTH, HEIGHT)
        assert shot.shape == grab.shape
        # the lower-right indicator grows a "screen shared" row only while the view runs:
        # leave out the corner it takes in either state (twice its height now)
        ind = desktop.window(INDICATOR)
        corner = (slice(max(0, ind.top - ind.height), HEIGHT), slice(ind.left, WIDTH))
        same = (shot == grab).all(axis=2)
        same[corner] = True
        differ = np.argwhere(~same)
        assert differ.size == 0, f"{len(differ)} pixels differ, first at {differ[:3].tolist()}"
        assert same[corner].size < 0.1 * WIDTH * HEIGHT
        assert (shot[: corner[0].start] != 0).any(), "the picture is not black"

        # 4. Probes that Wine can answer come back as typed DataFrames
        _probes_are_typed(session, desktop, pool)

        # 5. The view streams while a Wine window changes
        _streams_while_notepad_changes(session, desktop, wine_env)
    finally:
        # 6. "Beenden" ends the session
        end = desktop.buttons(desktop.window(MAIN))
        desktop.click(*end[END])
        until(lambda: session.closed, WAIT, "the engineer sees the session end")
        pool.shutdown(wait=False, cancel_futures=True)


def _streams_while_notepad_changes(
    session: zvkdiag.Session, desktop: Screen, wine_env: Any
) -> None:
    tiles: list[int] = []
    stop = threading.Event()

    async def watch() -> None:
        async for got in session.frames(0):
            tiles.append(len(got.frame.tiles))
            if stop.is_set():
                break

    watcher = threading.Thread(target=lambda: asyncio.run(watch()), daemon=True)
    watcher.start()
    # the customer may be asked again for screen.view (a new view after the screenshot's)
    until(lambda: bool(tiles or desktop.windows(DIALOG)), ANSWER, "a frame or a question")
    if not tiles:
        allow(desktop)
    until(lambda: len(tiles) >= 1, ANSWER, "the first frame of the screen view")
    notepad = wine_env.popen(["notepad"], extra_env={"DISPLAY": desktop.display})
    try:
        win = desktop.window(NOTEPAD, timeout=60)
        before = len(tiles)
        desktop.xdotool("windowfocus", "--sync", win.wid)
        desktop.xdotool("type", "--window", win.wid, "--delay", "80", "Hallo Wine")
        until(lambda: len(tiles) > before + 2, ANSWER, "frames while Wine's notepad changes")
        assert sum(tiles[before:]) > 0
    finally:
        stop.set()
        notepad.kill()


def _probes_are_typed(session: zvkdiag.Session, desktop: Screen, pool: ThreadPoolExecutor) -> None:
    listed = session.probes()
    assert {"processes", "os"} <= set(listed["name"])
    pending = pool.submit(session.probe, "os")
    allow(desktop)
    system = pending.result(ANSWER)
    assert list(system["system"]) == ["Windows"]
    assert str(system["boot_time"].dtype) == "datetime64[ns, UTC]"
    # processes: psutil's name()/exe() fail under Wine; the columns degrade, not the probe
    pending = pool.submit(session.probe, "processes")
    allow(desktop)  # the probe
    allow(desktop)  # the preview of what a sensitive probe sends
    table = pending.result(ANSWER)
    assert isinstance(table, pd.DataFrame)
    assert str(table["pid"].dtype) == "Int64"
    assert str(table["started"].dtype) == "datetime64[ns, UTC]"
    assert len(table) > 3 and table["pid"].notna().all()
    assert table["exe"].str.lower().str.endswith("explorer.exe").any()


GERMAN: Final = "Grüße ÄÖÜ ß @€{[]}\\|~ ^°`´ 12345"
"""The control tests' German test string (tests/control/conftest.py)."""
READ_NOTEPAD: Final = r"""
import ctypes
u = ctypes.windll.user32
u.FindWindowW.restype = u.FindWindowExW.restype = ctypes.c_void_p
u.FindWindowExW.argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_wchar_p, ctypes.c_wchar_p)
u.SendMessageW.argtypes = (ctypes.c_void_p, ctypes.c_uint, ctypes.c_size_t, ctypes.c_void_p)
edit = u.FindWindowExW(u.FindWindowW("Notepad", None), None, "Edit", None)
n = u.SendMessageW(edit, 0x000E, 0, None)
buf = ctypes.create_unicode_buffer(n + 1)
u.SendMessageW(edit, 0x000D, n + 1, ctypes.addressof(buf))
print("TEXT " + buf.value.encode("unicode_escape").decode("ascii"), flush=True)
"""


def notepad_text(wine_env: Any, display: str) -> str:
    """What Wine's notepad holds, read with WM_GETTEXT by a Windows Python in the prefix."""
    code, out = wine_env.run(
        [str(wine_env.python), "-c", READ_NOTEPAD], extra_env={"DISPLAY": display}, timeout=120
    )
    line = next((x for x in out.splitlines() if x.startswith("TEXT ")), None)
    assert code == 0 and line is not None, out[-2000:]
    return line[len("TEXT ") :].encode("ascii").decode("unicode_escape")


def test_control_types_german_text_into_wine_notepad(
    desktop: Screen, customer: Customer, relay: str, wine_env: Any
) -> None:
    """``type_text`` (``KEYEVENTF_UNICODE``) puts the German test string into a Wine program.

    Keys sent as scancodes alone (``c.key``) produce no characters under Wine 8: its
    ``SendInput`` does not map a scancode without a virtual key; real Windows does.
    """
    desktop.window(MAIN, timeout=60)
    pool = ThreadPoolExecutor(max_workers=2)
    pending = pool.submit(
        zvkdiag.connect, customer.session_id, customer.password, relay=relay, engineer=ENGINEER
    )
    allow(desktop)
    session = pending.result(ANSWER)
    notepad = wine_env.popen(["notepad"], extra_env={"DISPLAY": desktop.display})
    try:
        win = desktop.window(NOTEPAD, timeout=60)
        desktop.xdotool("windowfocus", "--sync", win.wid)  # the customer's window in front
        asked = pool.submit(session.control)
        allow(desktop)  # screen.control
        desktop.xdotool("windowfocus", "--sync", win.wid)  # the dialog took the focus
        with asked.result(ANSWER) as c:
            c.click(win.left + win.width // 2, win.top + win.height // 2)  # notepad in front
            c.type_text(GERMAN)
            seen = [""]

            def arrived() -> bool:
                seen[0] = notepad_text(wine_env, desktop.display)
                return seen[0] == GERMAN

            until(arrived, ANSWER, "the German test string in Wine's notepad")
    finally:
        notepad.kill()
        session.close()
        pool.shutdown(wait=False, cancel_futures=True)
