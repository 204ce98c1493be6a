"""screen.js's remote-control part in headless Chromium, with a stand-in for the anywidget model.

No kernel and no JupyterLab: the page gets the module and a model that records
what the script sends; the test delivers ``control_state`` messages and drives
the canvas with Playwright's keyboard and mouse (or with synthetic events
where a real device cannot make them: a pinch, Windows' AltGr, many moves
within one frame).  The whole path with JupyterLab and the customer's X
screen is tests/browser/test_remote_control.py.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

import zvkdiag.widgets.screen as screen_widget

from .test_browser_js import CHROMIUM, FLAGS  # one Chromium set-up for the page tests

pytestmark = pytest.mark.browser


HARNESS = """
async ([source]) => {
  window.sent = [];
  const handlers = {};
  const model = {
    get: (name) => (name === "title" ? "test screen" : name === "controllable"),
    on: (event, fn) => { handlers[event] = fn; },
    off: (event) => { delete handlers[event]; },
    send: (content) => { window.sent.push(content); },
  };
  window.deliver = (content) => handlers["msg:custom"](content, []);
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  const mod = await import(url);
  mod.default.render({ model, el: document.body });
  const canvas = document.querySelector("canvas");
  canvas.width = 800;
  canvas.height = 600;
}
"""


@pytest.fixture(scope="module")
def browser() -> Any:
    sync_api = pytest.importorskip("playwright.sync_api")
    if shutil.which(CHROMIUM) is None:
        pytest.skip("chromium is not installed")
    with tempfile.TemporaryDirectory() as profile, sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=FLAGS
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser: Any) -> Any:
    page = browser.new_page()
    page.set_content("<html><body></body></html>")
    source = (Path(screen_widget.__file__).parent / "static" / "screen.js").read_text()
    page.evaluate(HARNESS, [source])
    yield page
    page.close()


def _inputs(page: Any) -> list[list[dict[str, Any]]]:
    """The input batches sent so far (and forget them)."""
    sent = page.evaluate("() => window.sent.splice(0)")
    return [m["events"] for m in sent if m["type"] == "input"]


def _keys(page: Any) -> list[tuple[str, bool]]:
    return [(e["code"], e["down"]) for batch in _inputs(page) for e in batch if e["t"] == "key"]


def _controlling(page: Any) -> None:
    page.evaluate("() => window.deliver({type: 'control_state', state: 'on', text: 'on'})")
    page.evaluate("() => window.sent.splice(0)")


def test_buttons_ask_and_give_back_and_the_badge_follows(page: Any) -> None:
    canvas = page.locator("canvas")
    assert canvas.get_attribute("data-lm-suppress-shortcuts") is None
    page.click("button[name=control-request]")
    page.evaluate("() => window.deliver({type: 'control_state', state: 'asking', text: 'ask'})")
    assert page.is_disabled("button[name=control-request]")
    page.evaluate(
        "() => window.deliver({type: 'control_state', state: 'paused', "
        "text: 'Kunde bedient selbst'})"
    )
    assert page.inner_text(".zvk-control-state") == "Kunde bedient selbst"
    assert canvas.get_attribute("data-lm-suppress-shortcuts") == "true"
    assert canvas.get_attribute("tabindex") == "0"
    assert page.evaluate("() => document.activeElement.tagName") == "CANVAS"
    page.click("button[name=control-give-back]")
    page.evaluate("() => window.deliver({type: 'control_state', state: 'off', text: 'off'})")
    assert canvas.get_attribute("data-lm-suppress-shortcuts") is None
    assert canvas.get_attribute("tabindex") is None
    controls = [m for m in page.evaluate("window.sent") if m["type"] == "control"]
    assert controls == [{"type": "control", "want": True}, {"type": "control", "want": False}]


def test_keys_go_only_while_controlling(page: Any) -> None:
    press_a = """() => !document.querySelector('canvas').dispatchEvent(new KeyboardEvent(
        'keydown', {code: 'KeyA', bubbles: true, cancelable: true}))"""
    assert page.evaluate(press_a) is False  # not prevented: JupyterLab may have it
    assert _keys(page) == []
    _controlling(page)
    assert page.evaluate(press_a) is True
    page.keyboard.press("KeyA")
    assert _keys(page) == [("KeyA", True), ("KeyA", True), ("KeyA", False)]


def test_modifiers_resync_and_repeats_are_further_downs(page: Any) -> None:
    _controlling(page)
    page.keyboard.down("Shift")
    # a key whose flags say Shift is no longer down (its keyup went elsewhere)
    page.evaluate(
        """() => { const c = document.querySelector('canvas');
        for (const repeat of [false, true, true])
          c.dispatchEvent(new KeyboardEvent('keydown', {code: 'KeyB', shiftKey: false, repeat,
            bubbles: true, cancelable: true})); }"""
    )
    assert _keys(page) == [
        ("ShiftLeft", True),
        ("ShiftLeft", False),
        ("KeyB", True),
        ("KeyB", True),
        ("KeyB", True),
    ]


def test_a_ctrl_tap_and_ctrl_b_are_sent_and_windows_altgr_drops_its_ctrl(page: Any) -> None:
    _controlling(page)
    page.keyboard.press("Control+KeyB")
    page.wait_for_timeout(20)
    assert _keys(page) == [
        ("ControlLeft", True),
        ("KeyB", True),
        ("KeyB", False),
        ("ControlLeft", False),
    ]
    page.evaluate(
        """() => { const c = document.querySelector('canvas');
        const fire = (type, code, ctrlKey, altKey) => c.dispatchEvent(new KeyboardEvent(type,
          {code, ctrlKey, altKey, bubbles: true, cancelable: true}));
        fire('keydown', 'ControlLeft', true, false); fire('keydown', 'AltRight', true, true);
        fire('keyup', 'ControlLeft', false, true); fire('keyup', 'AltRight', false, false); }"""
    )
    page.wait_for_timeout(20)
    assert _keys(page) == [("AltRight", True), ("AltRight", False)]


def test_blur_and_pagehide_release_everything(page: Any) -> None:
    _controlling(page)
    page.keyboard.down("Control")
    page.evaluate("() => document.activeElement.blur()")
    page.keyboard.up("Control")
    batches = _inputs(page)
    assert batches[-1] == [{"t": "release"}]
    page.focus("canvas")
    page.evaluate("() => window.dispatchEvent(new PageTransitionEvent('pagehide'))")
    assert _inputs(page)[-1] == [{"t": "release"}]


def test_moves_in_one_frame_are_one_message_and_buttons_go_at_once(page: Any) -> None:
    _controlling(page)
    box = page.evaluate(
        "() => { const r = document.querySelector('canvas').getBoundingClientRect();"
        " return [r.left + 1, r.top + 1, r.width - 2, r.height - 2]; }"
    )
    page.evaluate(
        """([x, y, w, h]) => { const c = document.querySelector('canvas');
        for (let i = 1; i <= 10; i++) c.dispatchEvent(new PointerEvent('pointermove',
          {clientX: x + i * w / 20, clientY: y + h / 2, button: -1, bubbles: true})); }""",
        box,
    )
    page.wait_for_timeout(100)
    assert _inputs(page) == [[{"t": "move", "x": 400, "y": 300}]]
    page.mouse.click(box[0] + box[2] - 0.5, box[1] + box[3] - 0.5, button="right")
    batches = _inputs(page)
    buttons = [(e["b"], e["down"]) for b in batches for e in b if e["t"] == "button"]
    assert buttons == [(3, True), (3, False)]
    assert batches[-1][0] == {"t": "move", "x": 799, "y": 599}
    prevented = page.evaluate(
        "() => !document.querySelector('canvas').dispatchEvent("
        "new MouseEvent('contextmenu', {bubbles: true, cancelable: true}))"
    )
    assert prevented


def test_wheel_steps_by_delta_mode_and_no_pinch(page: Any) -> None:
    _controlling(page)
    page.evaluate(
        """() => { const c = document.querySelector('canvas');
        const wheel = (init) => c.dispatchEvent(new WheelEvent('wheel',
          {bubbles: true, cancelable: true, ...init}));
        wheel({deltaY: 3, deltaMode: WheelEvent.DOM_DELTA_LINE});
        wheel({deltaY: -1, deltaMode: WheelEvent.DOM_DELTA_PAGE});
        wheel({deltaY: 100});
        for (let i = 0; i < 5; i++) wheel({deltaY: 30});
        wheel({deltaY: 500, ctrlKey: true});
        wheel({deltaX: -200}); }"""
    )
    page.wait_for_timeout(50)
    steps = [(e["dx"], e["dy"]) for b in _inputs(page) for e in b if e["t"] == "wheel"]
    assert steps == [(0, 1), (0, -1), (0, 1), (0, 1), (-2, 0)]


def test_special_keys_menu_sends_keysyms(page: Any) -> None:
    _controlling(page)
    page.select_option("select.zvk-special-keys", index=1)  # Ctrl+Alt+Entf
    (batch,) = _inputs(page)
    assert [(e["name"], e["down"]) for e in batch] == [
        ("Control_L", True),
        ("Alt_L", True),
        ("Delete", True),
        ("Delete", False),
        ("Alt_L", False),
        ("Control_L", False),
    ]
    assert page.input_value("select.zvk-special-keys") == ""


def _points(page: Any) -> list[dict[str, Any]]:
    sent = page.evaluate("() => window.sent.splice(0)")
    return [{k: v for k, v in m.items() if k != "type"} for m in sent if m["type"] == "point"]


SWEEP = """() => {
  const canvas = document.querySelector('canvas');
  const r = canvas.getBoundingClientRect();
  for (let i = 0; i < 20; i++) {
    canvas.dispatchEvent(new PointerEvent('pointermove',
      {clientX: r.left + 20 + i, clientY: r.top + 30, bubbles: true}));
  }
  return [(39 * canvas.width) / r.width, (30 * canvas.height) / r.height];
}"""


def test_zeigen_sends_positions_throttled_and_hides_on_leave(page: Any) -> None:
    page.evaluate(SWEEP)
    assert _points(page) == []  # off: the pointer over the canvas points at nothing
    page.click("button[name=point]")
    _points(page)
    page.wait_for_timeout(150)  # the click's own pointer move is past the throttle
    _points(page)
    ex, ey = page.evaluate(SWEEP)  # 20 moves within one task
    page.wait_for_timeout(250)
    points = _points(page)
    assert len(points) == 2, points  # the first at once, the newest after the interval
    assert abs(points[-1]["x"] - ex) <= 1 and abs(points[-1]["y"] - ey) <= 1
    page.evaluate(
        "() => document.querySelector('canvas').dispatchEvent(new PointerEvent('pointerleave'))"
    )
    assert _points(page) == [{}]  # hidden when the pointer leaves the picture
    _controlling(page)
    page.evaluate(SWEEP)
    page.wait_for_timeout(150)
    assert _points(page) == [], "while controlling the mouse acts instead"
