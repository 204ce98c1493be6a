"""The one-file customer program (``make dist-linux``): built with PyInstaller, started
without any Python around it, reached by a real engineer through a real relay.

The build takes a minute or two; it is cached by the hash of its inputs in
``build/test-dist`` (with the test CA it bakes in, in ``build/test-ca``), so
later runs only start it.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import pytest

import zvkdiag
from zvkdiag.testing.procs import Proc
from zvkdiag.trust import ca

pytestmark = pytest.mark.timeout(600)

ROOT: Final = Path(__file__).resolve().parents[2]
OUT: Final = ROOT / "build" / "test-dist"
TEST_CA: Final = ROOT / "build" / "test-ca"
UNUSED_RELAY: Final = "127.0.0.1:9"
"""Built in, then overridden with ``--relay``: the discard port, where no relay answers."""
WAIT: Final = 60.0


@pytest.fixture(scope="module")
def binary() -> Path:
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.skip("PyInstaller is not installed (the lock's dist extra)")
    import sys

    sys.path.insert(0, str(ROOT / "packaging"))
    try:
        from build_onefile import build  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(ROOT / "packaging"))
    from zvkdiag.quicksupport.builtin import BuiltIn

    if not (TEST_CA / "ca.pub").exists():
        shutil.rmtree(TEST_CA, ignore_errors=True)
        ca.init_ca(TEST_CA)
    built = BuiltIn(UNUSED_RELAY, (TEST_CA / "ca.pub").read_text())
    path: Path = build(OUT, built)
    return path


def _bare_env(tmp_path: Path) -> dict[str, str]:
    """``env -i`` with a PATH that holds no Python (nor anything else)."""
    empty = tmp_path / "bin"
    empty.mkdir()
    return {"PATH": str(empty), "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")}


def _in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}

    def go() -> None:
        try:
            box["value"] = fn()
        except Exception as exc:
            box["error"] = exc

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    return thread, box


def test_binary_without_python_serves_a_certified_engineer(
    binary: Path, relay_process: str, tmp_path: Path
) -> None:
    customer = Proc(
        "--relay", relay_process, "--ui", "console", "--lang", "de",
        program=[str(binary)], env=_bare_env(tmp_path), clean_env=True,
    )  # fmt: skip
    try:
        session_id = customer.expect(r"^ID: (\d{3} \d{3} \d{3})$", WAIT).group(1)
        password = customer.expect(r"^Password: (\S+)$", WAIT).group(1)
        assert not any("Warning" in line for line in customer.seen)

        # the built-in CA key is in force: an engineer without its certificate is refused
        with pytest.raises(zvkdiag.ZvkdiagError):
            zvkdiag.connect(session_id, password, relay=relay_process, engineer="Mallory")
        customer.expect("Fehlgeschlagener Anmeldeversuch", WAIT)  # counted; the password holds

        ca.issue(TEST_CA, "Erika Muster", days=1, out_dir=tmp_path)
        thread, box = _in_thread(
            lambda: zvkdiag.connect(
                session_id, password, relay=relay_process, engineer="Erika Muster",
                identity=str(tmp_path / "erika-muster"),
            )
        )  # fmt: skip
        customer.expect("Erika Muster", WAIT)
        customer.expect(r"\[y/n\]", WAIT)
        customer.send("y")
        thread.join(WAIT)
        session = box.get("value")
        assert isinstance(session, zvkdiag.Session), box
        with session:
            assert session.info["verified"] is True
            run, ran = _in_thread(lambda: session.run(["/bin/echo", "hallo aus der Binärdatei"]))
            customer.expect(r"\[y/n\]", WAIT)
            customer.send("y")
            run.join(WAIT)
            assert "value" in ran, ran  # the customer's PATH is empty: a full path
            assert ran["value"].stdout == "hallo aus der Binärdatei\n"
    finally:
        customer.stop()
        assert customer.proc.stderr is not None
        said = customer.proc.stderr.read()
        assert "Traceback" not in said and "Warning" not in said, said


def test_binary_takes_the_options_of_zvkdiag_quicksupport(binary: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [str(binary), "--help"], env=_bare_env(tmp_path), capture_output=True, text=True,
        timeout=WAIT, check=True,
    )  # fmt: skip
    for option in ("--relay", "--ui", "--lang", "--listen", "--ca-key", "--proxy"):
        assert option in done.stdout


@pytest.mark.x11
def test_binary_shows_its_window_with_tk_inside(
    binary: Path, relay_process: str, tmp_path: Path
) -> None:
    if shutil.which("Xvfb") is None or shutil.which("xdotool") is None:
        pytest.skip("needs Xvfb and xdotool")
    from zvkdiag.consent.messages import text
    from zvkdiag.testing.xvfb import xvfb

    with xvfb(width=1024, height=768) as server:
        env = {**_bare_env(tmp_path), "DISPLAY": server.display}
        customer = Proc(
            "--relay", relay_process, "--ui", "tk", "--lang", "de",
            program=[str(binary)], env=env, clean_env=True,
        )  # fmt: skip
        try:
            customer.expect(r"^ID: \d{3} \d{3} \d{3}$", WAIT)
            deadline = time.monotonic() + WAIT
            while not _windows(server.env(), text("app.title", "de")):
                assert time.monotonic() < deadline, "no QuickSupport window on the screen"
                time.sleep(0.1)
        finally:
            customer.stop()


def _windows(env: dict[str, str], title: str) -> list[str]:
    found = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", title],
        env=env, capture_output=True, text=True, timeout=WAIT,
    )  # fmt: skip
    return found.stdout.split()
