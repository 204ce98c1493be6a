"""Remote control from the screen widget in real JupyterLab and headless Chromium.

The customer's screen is an Xvfb with a German layout and a Tk text field
(tests/control/target.py) at its top left; the agent runs in this process
with an auto-answering consent UI.  Playwright clicks "request control",
then types and clicks into the canvas like an engineer; the test reads what
the Tk field received, where the X pointer is, what the X server holds down,
and whether JupyterLab acted on any of the keys.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SCREEN_COLOUR  # same folder
from control.conftest import Target, held_down, running_target  # tests/control
from test_blocking_cell import _open_and_run_first_cell, _view_cell
from test_quickstart import UI_TIMEOUT_MS
from Xlib import display as xdisplay

from zvkdiag.jupyter.launch import LabServer
from zvkdiag.testing.fakes import AgentThread, RelayThread
from zvkdiag.testing.xvfb import XServer, xvfb

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

CANVAS = ".jp-OutputArea-output canvas"
BADGE = ".zvk-control-state"
CTRL_KEYCODE = 37  # Control_L in the X server's keymap

# What JupyterLab shows: cells, the active cell, its mode, the left sidebar, the palette.
LAB_STATE = """() => {
  const cells = [...document.querySelectorAll('.jp-Notebook .jp-Cell')];
  const nb = document.querySelector('.jp-Notebook');
  const left = document.querySelector('#jp-left-stack');
  const palette = document.querySelector('.jp-ModalCommandPalette');
  return {
    cells: cells.length,
    active: cells.findIndex((c) => c.classList.contains('jp-mod-active')),
    edit: nb.classList.contains('jp-mod-editMode'),
    leftOpen: !!left && !left.classList.contains('lm-mod-hidden'),
    palette: !!palette && !palette.classList.contains('lm-mod-hidden'),
  };
}"""

# The canvas' content box in CSS pixels of the page.
CONTENT_BOX = """(sel) => {
  const c = document.querySelector(sel);
  const r = c.getBoundingClientRect();
  const s = getComputedStyle(c);
  const f = (n) => parseFloat(s[n]) || 0;
  return {
    left: r.left + f('borderLeftWidth') + f('paddingLeft'),
    top: r.top + f('borderTopWidth') + f('paddingTop'),
    width: r.width - f('borderLeftWidth') - f('borderRightWidth')
      - f('paddingLeft') - f('paddingRight'),
    height: r.height - f('borderTopWidth') - f('borderBottomWidth')
      - f('paddingTop') - f('paddingBottom'),
    pixels: [c.width, c.height],
  };
}"""

# Windows' AltGr: a ControlLeft at the same moment as AltRight, then Q (German "@").
WINDOWS_ALTGR_Q = """(sel) => {
  const c = document.querySelector(sel);
  const fire = (type, code, key, ctrlKey, altKey) => c.dispatchEvent(new KeyboardEvent(type, {
    code, key, ctrlKey, altKey, bubbles: true, cancelable: true }));
  fire('keydown', 'ControlLeft', 'Control', true, false);
  fire('keydown', 'AltRight', 'AltGraph', true, true);
  fire('keydown', 'KeyQ', '@', true, true);
  fire('keyup', 'KeyQ', '@', true, true);
  fire('keyup', 'ControlLeft', 'Control', false, true);
  fire('keyup', 'AltRight', 'AltGraph', false, false);
}"""

# Wheel events Chromium's real wheel cannot make: Firefox's lines, a touchpad, a pinch.
SYNTHETIC_WHEELS = """([sel, x, y]) => {
  const c = document.querySelector(sel);
  const wheel = (init) => c.dispatchEvent(new WheelEvent('wheel', {
    clientX: x, clientY: y, bubbles: true, cancelable: true, ...init }));
  wheel({ deltaY: 3, deltaMode: WheelEvent.DOM_DELTA_LINE });  // one notch down
  for (let i = 0; i < 3; i++) wheel({ deltaY: 40 });           // 120 px: one step down
  wheel({ deltaY: 300, ctrlKey: true });                        // a pinch: nothing
}"""


@pytest.fixture
def german_x() -> Iterator[XServer]:
    with xvfb(1024, 768) as x:
        subprocess.run(["setxkbmap", "de"], env=x.env(), check=True)
        subprocess.run(["xsetroot", "-solid", SCREEN_COLOUR], env=x.env(), check=True)
        yield x


@pytest.fixture
def display_env(german_x: XServer) -> dict[str, str]:
    """The customer's screen for the agent and JupyterLab (overrides conftest's)."""
    return {"DISPLAY": german_x.display}


@pytest.fixture
def tk_target(german_x: XServer) -> Iterator[Target]:
    with running_target(german_x) as target:
        yield target


def _until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.05)
    return predicate()


def _pointer(display: str) -> tuple[int, int]:
    d = xdisplay.Display(display)
    try:
        p = d.screen().root.query_pointer()
        return p.root_x, p.root_y
    finally:
        d.close()


def _take_control(page: Any, lab: LabServer, folder: Path, agent: AgentThread, relay: Any) -> None:
    _open_and_run_first_cell(page, lab, folder, "control.ipynb", [_view_cell(agent, relay)])
    page.wait_for_selector(CANVAS, timeout=UI_TIMEOUT_MS)
    page.wait_for_function(
        f"() => document.querySelector('{CANVAS}').width === 1024", timeout=UI_TIMEOUT_MS
    )
    page.wait_for_selector(f"{BADGE}[data-state='off']", timeout=UI_TIMEOUT_MS)
    page.locator("button[name=control-request]").click()
    page.wait_for_selector(f"{BADGE}[data-state='on']", timeout=UI_TIMEOUT_MS)
    assert page.get_attribute(CANVAS, "data-lm-suppress-shortcuts") is not None


def _canvas_point(page: Any, x: int, y: int) -> tuple[float, float]:
    """Where the customer's pixel (x, y) is drawn, in CSS pixels of the page."""
    box = page.evaluate(CONTENT_BOX, CANVAS)
    width, height = box["pixels"]
    return (
        box["left"] + (x + 0.5) * box["width"] / width,
        box["top"] + (y + 0.5) * box["height"] / height,
    )


def _near(got: tuple[int, int], want: tuple[int, int]) -> bool:
    return abs(got[0] - want[0]) <= 1 and abs(got[1] - want[1]) <= 1


def test_keys_clicks_and_wheel_reach_the_customer_not_jupyterlab(
    lab: LabServer,
    page: Any,
    relay: RelayThread,
    screen_agent: AgentThread,
    tk_target: Target,
    notebook_dir: Path,
) -> None:
    display = tk_target.display
    _take_control(page, lab, notebook_dir, screen_agent, relay)

    # A click on a canvas drawn at about half size lands on the customer's pixel.
    page.evaluate(f"() => {{ document.querySelector('{CANVAS}').style.width = '47%'; }}")
    box = page.evaluate(CONTENT_BOX, CANVAS)
    assert box["width"] < 0.6 * 1024
    for x, y in [(301, 151), (37, 203), (580, 20)]:  # all inside the Tk field
        page.mouse.click(*_canvas_point(page, x, y))
        assert _until(lambda x=x, y=y: _near(_pointer(display), (x, y)), 5), _pointer(display)
    assert page.evaluate(f"() => document.activeElement === document.querySelector('{CANVAS}')")

    before = page.evaluate(LAB_STATE)
    keyboard = page.keyboard
    keyboard.type("hallo")
    keyboard.press("Shift+KeyW")
    keyboard.press("BracketLeft")  # ü on the customer's German layout
    keyboard.press("Shift+Enter")  # JupyterLab: run cell and insert one below
    keyboard.press("Control+b")  # JupyterLab: toggle the left sidebar; Tk: cursor back one
    keyboard.press("Control+Shift+c")  # JupyterLab: the command palette
    keyboard.press("a")  # JupyterLab: insert a cell above
    keyboard.press("d")
    keyboard.press("d")  # JupyterLab: delete the cell
    keyboard.press("Escape")
    assert tk_target.wait_text("halloWüadd\n") == "halloWüadd\n"
    page.wait_for_timeout(300)
    assert page.evaluate(LAB_STATE) == before

    # Windows' AltGr: the ControlLeft sent with AltRight does not reach the customer.
    page.evaluate(WINDOWS_ALTGR_Q, CANVAS)
    assert tk_target.wait_text("halloWüadd@\n") == "halloWüadd@\n"

    # One notch of Chromium's wheel is one step; so are a line notch and 120 px of touchpad.
    page.mouse.move(*_canvas_point(page, 300, 100))
    page.mouse.wheel(0, 100)
    assert _until(lambda: tk_target.wheel() == (0, 1)), tk_target.wheel()
    page.mouse.wheel(0, -100)
    assert _until(lambda: tk_target.wheel() == (1, 1)), tk_target.wheel()
    page.evaluate(SYNTHETIC_WHEELS, [CANVAS, *_canvas_point(page, 300, 100)])
    assert _until(lambda: tk_target.wheel() == (1, 3)), tk_target.wheel()
    page.wait_for_timeout(300)
    assert tk_target.wheel() == (1, 3)  # and nothing more (the pinch)

    # Blur with Ctrl held: the customer's Ctrl goes up.
    keyboard.down("Control")
    assert _until(lambda: CTRL_KEYCODE in held_down(display)[0], 5)
    page.evaluate("() => document.activeElement.blur()")
    assert _until(lambda: held_down(display) == ([], 0), 5), held_down(display)
    keyboard.up("Control")

    page.locator("button[name=control-give-back]").click()
    page.wait_for_selector(f"{BADGE}[data-state='off']", timeout=UI_TIMEOUT_MS)
    assert page.get_attribute(CANVAS, "data-lm-suppress-shortcuts") is None
