"""The Windows exe under Wine on Xvfb, met as a customer meets it; an engineer on Linux.

What this proves and what it does not: docs/windows.md ("What the Wine tests prove").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import psutil
import pytest
from e2e_tk.driver import DIALOG, INDICATOR, MAIN, WAIT, Screen, until, white_boxes

import zvkdiag
from zvkdiag.consent.audit import LOG_NAME, verify
from zvkdiag.consent.messages import text
from zvkdiag.consent.tk_theme import INDICATOR as INDICATOR_ORANGE
from zvkdiag.probes.registry import DEFAULT_REGISTRY
from zvkdiag.wire.codes import PASSWORD_ALPHABET

from .conftest import BUILTIN_RELAY, ENGINEER, HEIGHT, ID_LINE, WIDTH, Customer, WineProgram

pytestmark = [pytest.mark.wine, pytest.mark.x11, pytest.mark.timeout(1800)]

ALLOW: Final = 0
END: Final = 1
"""Index of "Beenden" in the main window's button row ("Protokoll öffnen", "Beenden")."""
ANSWER: Final = 60.0
NOTEPAD: Final = r"Notepad|Editor"


OCR_LOOKALIKES: Final = ({"2", "z"}, {"5", "s", "8"}, {"6", "b"}, {"9", "q", "g"})
"""Characters tesseract takes for one another in the window's font, whatever the scale."""


def same_glyphs(read: str, password: str) -> bool:
    """Whether OCR's ``read`` is ``password``, up to a look-alike character (``OCR_LOOKALIKES``).

    Of the 31**8 passwords, a read still matches only those differing in look-alikes.
    """
    read = read.replace(" ", "")
    return len(read) == len(password) and all(
        a == b or any({a, b} <= group for group in OCR_LOOKALIKES)
        for a, b in zip(read, password, strict=True)
    )


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


def connect(
    pool: ThreadPoolExecutor, desktop: Screen, customer: Customer, relay: str, identity: str
) -> zvkdiag.Session:
    """The certified engineer connects; the customer allows the session."""
    pending = pool.submit(
        zvkdiag.connect, customer.session_id, customer.password, relay=relay,
        engineer=ENGINEER, identity=identity,
    )  # fmt: skip
    allow(desktop)
    session: zvkdiag.Session = pending.result(ANSWER)
    return session


def indicator_box(*pictures: np.ndarray[Any, Any]) -> tuple[slice, slice]:
    """Rows and columns that the indicator's signal orange covers in any of ``pictures``."""
    orange = np.array([int(INDICATOR_ORANGE[i : i + 2], 16) for i in (1, 3, 5)], np.uint8)
    mask = np.zeros(pictures[0].shape[:2], bool)
    for picture in pictures:
        mask |= (picture == orange).all(axis=2)
    mask[: HEIGHT // 2] = mask[:, : WIDTH // 2] = False  # the indicator sits at the lower right
    rows, cols = np.nonzero(mask)
    assert rows.size, "no indicator at the lower right"
    return slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1)


def now() -> str:
    """The time as the audit log writes it (ISO 8601 UTC, milliseconds): they sort as text."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def audit_records(wine_env: Any, since: str = "") -> list[dict[str, Any]]:
    """The customer's audit records in the prefix's ``%LOCALAPPDATA%\\zvkdiag``, from ``since``."""
    users = wine_env.prefix / "drive_c" / "users"
    paths = list(users.glob(f"*/AppData/Local/zvkdiag/{LOG_NAME}"))
    assert len(paths) <= 1, paths
    lines = paths[0].read_text(encoding="utf-8").splitlines() if paths else []
    records = [json.loads(line) for line in lines if line]
    return [r for r in records if r["ts"] >= since]


def read_text(pixels: np.ndarray[Any, Any], tmp: Path) -> str:
    """Text of a window by tesseract (scaled up 2x)."""
    from PIL import Image

    image = Image.fromarray(pixels).convert("L")
    image = image.resize((image.width * 2, image.height * 2), Image.Resampling.LANCZOS)
    image.save(tmp / "window.png")
    done = subprocess.run(
        ["tesseract", str(tmp / "window.png"), "-", "--psm", "6"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return done.stdout


def test_builtin_ca_key_shows_verified_engineers_and_refuses_others(
    desktop: Screen, customer: Customer, relay: str, wine_env: Any, identity: str, tmp_path: Path
) -> None:
    """The exe built with a CA key verifies engineers without any option or file."""
    if shutil.which("tesseract") is None:
        pytest.skip("needs tesseract-ocr (scripts/install-system.sh)")
    desktop.window(MAIN, timeout=60)
    since = now()
    # without a certificate of the built-in CA: refused before the customer is asked
    with pytest.raises(zvkdiag.ZvkdiagError):
        zvkdiag.connect(customer.session_id, customer.password, relay=relay, engineer="Mallory")
    assert not desktop.windows(DIALOG)
    # with one: the question names the engineer as checked ("Erika Muster (geprüft)")
    pool = ThreadPoolExecutor(max_workers=1)
    pending = pool.submit(
        zvkdiag.connect, customer.session_id, customer.password, relay=relay,
        engineer="Somebody Else", identity=identity,
    )  # fmt: skip
    dialog = desktop.window(DIALOG, timeout=ANSWER)
    seen = [""]

    def named() -> bool:
        seen[0] = read_text(desktop.grab_window(dialog), tmp_path)
        return re.search(r"Erika Muster \(gepr", seen[0]) is not None

    with contextlib.suppress(AssertionError):
        until(named, WAIT, "the question names the verified engineer")
    assert re.search(r"Erika Muster \(gepr", seen[0]), seen[0]
    allow(desktop)
    session = pending.result(ANSWER)
    try:
        assert session.info["verified"] is True
        records = audit_records(wine_env, since)
        refused = [r for r in records if r["kind"] == "engineer-refused"]
        assert [r["name"] for r in refused] == ["Mallory"], records
        (connected,) = [r for r in records if r["kind"] == "session-connected"]
        assert connected["engineer"] == ENGINEER and connected["verified"] is True
    finally:
        session.close()
        pool.shutdown(wait=False, cancel_futures=True)


def test_builtin_relay_is_dialled_when_none_is_given(
    start_exe: Any, wine_env: Any, desktop: Screen, tmp_path: Path
) -> None:
    since = now()
    program: WineProgram = start_exe("--lang", "de")
    program.reported(r"^Network: .+$")
    problems: list[dict[str, Any]] = []

    def recorded() -> bool:
        records = audit_records(wine_env, since)
        problems[:] = [r for r in records if r["kind"] == "network-problem"]
        return bool(problems)

    until(recorded, WAIT, "the customer's audit names the network problem")
    assert problems[0]["relay"] == BUILTIN_RELAY, problems
    # the window says it, with the address tried
    main = desktop.window(MAIN, timeout=60)
    seen = [""]

    def told() -> bool:
        seen[0] = read_text(desktop.grab_window(main), tmp_path)
        return BUILTIN_RELAY in seen[0] and "nicht erreichbar" in seen[0]

    with contextlib.suppress(AssertionError):
        until(told, WAIT, "the window names the relay it cannot reach")
    assert BUILTIN_RELAY in seen[0] and "nicht erreichbar" in seen[0], seen[0]
    # started twice: the second start brings the first window forward and ends
    second: WineProgram = start_exe("--lang", "de", name="second.txt")
    second.reported("^" + re.escape(text("instance.running", "de")) + "$")
    assert second.proc.wait(ANSWER) == 0
    assert "ID:" not in second.output.read_text(encoding="utf-8")


def test_a_damaged_audit_log_is_kept_aside(
    start_exe: Any, relay: str, wine_env: Any, desktop: Screen, tmp_path: Path
) -> None:
    users = wine_env.prefix / "drive_c" / "users"
    folder = next(users.glob("*/AppData/Local")) / "zvkdiag"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / LOG_NAME).write_bytes(b'{"seq": 1, "kind": "not a chained record"}\n')
    kept = set(folder.glob(LOG_NAME + ".damaged-*"))
    program: WineProgram = start_exe("--relay", relay, "--lang", "de")
    line = program.reported(r"^Das bisherige Protokoll war .* als (\S+) aufbewahrt").group(1)
    program.reported(ID_LINE)
    (aside,) = set(folder.glob(LOG_NAME + ".damaged-*")) - kept
    assert aside.name == line
    assert b"not a chained record" in aside.read_bytes()
    assert verify(folder / LOG_NAME).ok  # a new chain
    main = desktop.window(MAIN, timeout=60)
    seen = [""]

    def told() -> bool:
        seen[0] = read_text(desktop.grab_window(main), tmp_path)
        return "Protokoll" in seen[0] and "aufbewahrt" in seen[0]

    with contextlib.suppress(AssertionError):
        until(told, WAIT, "the window says the log was kept aside")
    assert "Protokoll" in seen[0] and "aufbewahrt" in seen[0], seen[0]


def test_customer_session_under_wine(
    desktop: Screen, customer: Customer, relay: str, wine_env: Any, tmp_path: Path, identity: str
) -> None:
    if shutil.which("tesseract") is None:
        pytest.skip("needs tesseract-ocr (scripts/install-system.sh)")
    # 0. No third-party noise (CryptographyDeprecationWarning and the like) before the ID
    report = customer.program.output.read_text(encoding="utf-8")
    before_id = report[: re.search(ID_LINE, report, re.MULTILINE).start()]  # type: ignore[union-attr]
    assert "Warning" not in before_id and "Traceback" not in before_id, before_id
    # the audit log of the earlier starts in this prefix was readable (not set aside)
    assert ".damaged-" not in report, report
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
            same_glyphs(shown[1], customer.password)
        )

    with contextlib.suppress(AssertionError):  # the asserts below say what differs
        until(drawn, WAIT, "the window shows the reported ID and password")
    assert len(boxes) == 3, "the ID, password and message boxes in the main window"
    shown_id, shown_password = shown
    assert re.sub(r"\D", "", shown_id) == customer.session_id.replace(" ", "")
    assert same_glyphs(shown_password, customer.password), (shown_password, customer.password)

    # 2. An engineer connects through the relay process; the customer clicks "Erlauben"
    pool = ThreadPoolExecutor(max_workers=2)
    session = connect(pool, desktop, customer, relay, identity)
    try:
        desktop.window(INDICATOR)
        # 3. screenshot() is the Wine desktop, pixel for pixel
        shot_pending = pool.submit(session.screenshot)
        allow(desktop)  # screen.view
        shot = np.asarray(shot_pending.result(ANSWER).convert("RGB"))
        grab = desktop.grab(0, 0, WIDTH, HEIGHT)
        assert shot.shape == grab.shape
        # the lower-right indicator grows a "screen shared" row (higher and wider) only while
        # the view runs: leave out the box its orange covers in either picture (Wine reports
        # the window's new geometry late, so the pixels say where it is)
        corner = indicator_box(shot, grab)
        same = (shot == grab).all(axis=2)
        same[corner] = True
        differ = np.argwhere(~same)
        if differ.size:  # for whoever reads the failure: both pictures
            from PIL import Image

            Image.fromarray(shot).save(tmp_path / "screenshot.png")
            Image.fromarray(grab).save(tmp_path / "grab.png")
        assert differ.size == 0, f"{len(differ)} pixels differ, first at {differ[:3].tolist()}"
        assert same[corner].size < 0.1 * WIDTH * HEIGHT
        assert (shot[: corner[0].start] != 0).any(), "the picture is not black"

        # 4. Probes that Wine can answer come back as typed DataFrames
        _probes_are_typed(session, desktop, pool)
        _files_and_a_command(session, desktop, pool, wine_env, tmp_path)

        # 5. The view streams while a Wine window changes
        _streams_while_notepad_changes(session, desktop, wine_env)
        # 6. A command still running when the session ends (cmd and the ping it started)
        _start_a_long_command(session, desktop, pool)
    finally:
        # 7. "Beenden" ends the session (the window raised first: no window manager does it,
        # and notepad may still cover it)
        main = desktop.window(MAIN)
        desktop.xdotool("windowraise", main.wid)
        end = desktop.buttons(main)
        desktop.click(*end[END])
        until(lambda: session.closed, WAIT, "the engineer sees the session end")
        pool.shutdown(wait=False, cancel_futures=True)
    # Windows has no process groups: the command and its child are killed as a tree
    until(lambda: not _long_command_processes(), WAIT, "the command ends with the session")


LONG_PINGS: Final = "587"  # marks the long command's processes among Wine's


def _long_command_processes() -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        line = " ".join(proc.info["cmdline"] or []).lower()
        if "ping" in line and LONG_PINGS in line.split():
            found.append(proc)
    return found


def _start_a_long_command(
    session: zvkdiag.Session, desktop: Screen, pool: ThreadPoolExecutor
) -> None:
    pool.submit(session.run, ["cmd", "/c", "ping", "-n", LONG_PINGS, "127.0.0.1"], timeout=900)
    allow(desktop)  # command
    until(lambda: len(_long_command_processes()) >= 2, WAIT, "cmd and ping both run")


def _files_and_a_command(
    session: zvkdiag.Session,
    desktop: Screen,
    pool: ThreadPoolExecutor,
    wine_env: Any,
    tmp_path: Path,
) -> None:
    """A file with every byte value goes there and back unchanged (no text-mode CR LF);
    a command runs in Windows' ``cmd``."""
    sent = tmp_path / "bytes.bin"
    sent.write_bytes(bytes(range(256)) * 4)
    folder = next((wine_env.prefix / "drive_c" / "users").glob("*/Documents"))
    target = folder / sent.name
    target.unlink(missing_ok=True)
    remote = "C:/users/" + folder.parent.name + "/Documents"
    pending = pool.submit(session.upload, sent, remote, progress=False)
    allow(desktop)  # file.upload
    pending.result(ANSWER)
    assert target.read_bytes() == sent.read_bytes()
    (tmp_path / "back").mkdir()
    back = pool.submit(session.download, f"{remote}/{sent.name}", tmp_path / "back", progress=False)
    allow(desktop)  # file.download
    assert back.result(ANSWER).read_bytes() == sent.read_bytes()
    target.unlink()
    ran = pool.submit(session.run, ["cmd", "/c", "echo", "hallo"])
    allow(desktop)  # command
    result = ran.result(ANSWER)
    assert (result.stdout, result.exit_status) == ("hallo\r\n", 0), result


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


WINE_ANSWERS: Final = frozenset(
    {"os", "hardware", "resources", "storage", "processes", "connections", "network_config",
     "environment", "reboot_pending", "security_posture", "time_sync"}
)  # fmt: skip
"""Probes with rows under Wine 8 (docs/windows.md lists what each lacks there)."""
WINE_NOW_AND_THEN: Final = {"connections": "NtQuerySystemInformation"}
"""Probes whose psutil call Wine 8 now and then refuses (``WinError 87``): rows, or the
reason naming the refused call (the probe says it stopped early; the session goes on)."""
WINE_STUBS: Final = {
    "services": "PowerShell ran nothing",
    "updates": "PowerShell ran nothing",
    "printers": "PowerShell ran nothing",
    "event_log": "wevtutil says nothing",
    "connectivity": "no endpoints given",
}
"""Probes without rows under Wine, and the reason each gives (Wine's stubs print nothing)."""
PROBES_ASKED: Final = 5
"""Probes per question: the dialog lists each, and 19 would reach past the screen."""


def _probes_are_typed(session: zvkdiag.Session, desktop: Screen, pool: ThreadPoolExecutor) -> None:
    names = sorted(p.name for p in DEFAULT_REGISTRY if p.applies("windows"))
    listed = session.probes()
    assert set(names) <= set(listed["name"])
    results: dict[str, pd.DataFrame] = {}
    for group in (names[i : i + PROBES_ASKED] for i in range(0, len(names), PROBES_ASKED)):
        pending = pool.submit(session.collect, group)
        while not pending.done():  # one question, then a preview for each sensitive probe
            with contextlib.suppress(AssertionError):
                desktop.window(DIALOG, timeout=2)
                allow(desktop)
        got = pending.result(ANSWER)
        assert got.refused == []
        results.update((name, got[name]) for name in group)
    for name in names:
        probe, table = DEFAULT_REGISTRY.get(name), results[name]
        warnings = table.attrs["warnings"]
        assert {c: str(t) for c, t in table.dtypes.items()} == dict(probe.columns), name
        assert table.empty or name in WINE_ANSWERS, (name, warnings)
        refused = any(WINE_NOW_AND_THEN.get(name, "\0") in w for w in warnings)
        if name in WINE_ANSWERS and not refused:
            assert len(table) >= 1, (name, warnings)
        if name in WINE_STUBS:
            assert any(WINE_STUBS[name] in w for w in warnings), (name, warnings)
    system = results["os"]
    assert list(system["system"]) == ["Windows"]
    assert str(system["boot_time"].dtype) == "datetime64[ns, UTC]"
    load = results["resources"]  # psutil's swap figures fail under Wine: two columns empty
    assert load["memory_total_bytes"].notna().all() and load["swap_total_bytes"].isna().all()
    assert any(w.startswith("swap: ") for w in load.attrs["warnings"])
    # processes: psutil's name()/exe() fail under Wine; the columns degrade, not the probe
    table = results["processes"]
    assert str(table["pid"].dtype) == "Int64"
    assert str(table["started"].dtype) == "datetime64[ns, UTC]"
    assert len(table) > 3 and table["pid"].notna().all()
    assert table["exe"].str.lower().str.endswith("explorer.exe").any()


GERMAN: Final = "Grüße ÄÖÜ ß @€{[]}\\|~ ^°`´ 12345"
"""The control tests' German test string (tests/control/conftest.py)."""
KEYS: Final = ("Return", "a", "shift+b", "Tab", "1")
KEYED: Final = "\r\naB\t1"
"""What ``c.key`` with ``KEYS`` types into notepad (its edit control keeps CR LF)."""
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
    desktop: Screen, customer: Customer, relay: str, wine_env: Any, identity: str
) -> None:
    """``type_text`` (``KEYEVENTF_UNICODE``) puts the German test string into a Wine program,
    and ``c.key`` (scancodes) types keys through the layout.

    Wine 8's ``SendInput`` reads only ``wVk`` (a scancode alone types nothing there), real
    Windows only ``wScan`` when ``KEYEVENTF_SCANCODE`` is set: the backend fills in both.
    """
    desktop.window(MAIN, timeout=60)
    pool = ThreadPoolExecutor(max_workers=2)
    session = connect(pool, desktop, customer, relay, identity)
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
            for combo in KEYS:
                c.key(combo)
            seen = [""]

            def arrived() -> bool:
                seen[0] = notepad_text(wine_env, desktop.display)
                return seen[0] == GERMAN + KEYED

            until(arrived, ANSWER, "the German test string in Wine's notepad")
    finally:
        notepad.kill()
        session.close()
        pool.shutdown(wait=False, cancel_futures=True)
