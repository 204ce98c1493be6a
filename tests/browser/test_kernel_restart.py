"""Restarting the notebook's kernel in JupyterLab ends the customer's session.

The customer runs the real program with its Tk window (``python -m zvkdiag
quicksupport --ui tk``) on the Xvfb the lab's fixtures start; the test clicks
"Erlauben" there with xdotool.  A notebook cell connects and forgets nothing
on purpose: only the kernel holds the session.  Restarting the kernel from
JupyterLab's Kernel menu must end it: the customer's audit records the end
(closed by the engineer's side, not merely dropped) and the orange indicator
at the lower right of the customer's screen goes away (mss pixels).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from e2e_tk.driver import DIALOG, INDICATOR, Screen, until  # tests/ is on sys.path
from test_blocking_cell import _open_and_run_first_cell  # same folder
from test_quickstart import UI_TIMEOUT_MS  # same folder

from zvkdiag.jupyter.launch import LabServer
from zvkdiag.testing.fakes import RelayThread
from zvkdiag.testing.procs import Proc
from zvkdiag.testing.xvfb import XServer

pytestmark = [pytest.mark.browser, pytest.mark.x11, pytest.mark.timeout(180)]

ALLOW: Final = 0  # "Erlauben" in the consent dialog's button row
GONE: Final = 20.0
"""Upper bound for the indicator to go; generous (the keepalive gives up after 3 s)."""


@pytest.fixture
def customer(
    relay: RelayThread, display_env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[Proc, str, str, Path]]:
    data = tmp_path / "customer-data"
    proc = Proc(
        "quicksupport", "--relay", relay.address, "--ui", "tk", "--lang", "de",
        env={"DISPLAY": display_env["DISPLAY"], "XDG_DATA_HOME": str(data)},
    )  # fmt: skip
    try:
        session_id = proc.expect(r"^ID: (\d{3} \d{3} \d{3})$", 30).group(1)
        password = proc.expect(r"^Password: (\S+)$", 30).group(1)
        yield proc, session_id, password, data / "zvkdiag" / "audit.jsonl"
    finally:
        proc.stop()


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _ended(path: Path) -> list[dict[str, Any]]:
    return [r for r in _records(path) if r["kind"] == "session-ended"]


def _restart_kernel_from_the_menu(page: Any) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").first.click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Restart Kernel…$")).first.click()
    page.locator(".jp-Dialog button.jp-mod-accept").click()  # "Restart"


def test_kernel_restart_ends_the_customers_session(
    lab: LabServer,
    page: Any,
    relay: RelayThread,
    display_env: dict[str, str],
    customer: tuple[Proc, str, str, Path],
    notebook_dir: Path,
) -> None:
    proc, session_id, password, audit = customer
    screen = Screen(XServer(display_env["DISPLAY"], 1024, 768))
    cell = (
        "import zvkdiag\n"
        f"zvkdiag.connect({session_id!r}, {password!r}, relay={relay.address!r},"
        " engineer='Erika Muster')\n"  # no handle kept: the kernel alone holds it
        "print('open:', len(zvkdiag.sessions()))"
    )
    _open_and_run_first_cell(page, lab, notebook_dir, "restart.ipynb", [cell])
    screen.press(DIALOG, ALLOW, 2)
    page.locator(".jp-OutputArea-output", has_text="open: 1").wait_for(timeout=UI_TIMEOUT_MS)
    screen.window(INDICATOR)
    until(lambda: screen.lower_right() > 0.2, GONE, "the indicator at the lower right")
    assert not _ended(audit)

    _restart_kernel_from_the_menu(page)
    until(lambda: bool(_ended(audit)), GONE, "the customer's audit to record the end")
    until(lambda: screen.lower_right() == 0.0, GONE, "the indicator's pixels to go")
    assert not screen.windows(INDICATOR)
    assert [r["reason"] for r in _ended(audit)] == ["engineer"]  # closed, not merely dropped
    assert proc.proc.poll() is None  # the customer's program goes on, with a new password
    assert proc.expect(r"^Password: (\S+)$", 30).group(1) != password
