"""What the customer's program imports on Linux, against what the Windows exe leaves out.

``packaging/windows/build.py`` excludes modules from the exe (``EXCLUDES``);
an excluded module that the customer's code does import would make the exe
fail only when that code runs, under Windows.  These tests import everything
the exe bundles of zvkdiag, in a fresh interpreter, and look at
``sys.modules``.  They need no Wine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Final

from zvkdiag.trust import ca

from .conftest import load_build

# The modules the exe's entry and its PyInstaller options take in (--collect-submodules)
BUNDLE_SCRIPT: Final = """
import importlib, json, pkgutil, sys
import zvkdiag.agent, zvkdiag.probes
for pkg in (zvkdiag.agent, zvkdiag.probes):
    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        importlib.import_module(info.name)
for name in ("zvkdiag.cli", "zvkdiag.quicksupport.app", "zvkdiag.consent.tk_ui",
             "zvkdiag.consent.console_ui", "zvkdiag.screen.stream", "zvkdiag.screen.capture",
             "zvkdiag.screen.win32dpi"):
    importlib.import_module(name)
print(json.dumps(sorted(sys.modules)))
"""

# What ``zvkdiag quicksupport`` imports before it shows the window, and then before the ID
WINDOW_SCRIPT: Final = """
import json, sys
import zvkdiag.cli, zvkdiag.quicksupport.app, zvkdiag.consent.tk_ui, zvkdiag.screen.win32dpi
print(json.dumps(sorted(sys.modules)))
"""
START_SCRIPT: Final = WINDOW_SCRIPT.replace("win32dpi", "win32dpi, zvkdiag.agent.agent")
# With a CA key built in: the options resolved before the window, then the agent's options
BUILTIN_KEY_SCRIPT: Final = """
import json, sys
from zvkdiag.quicksupport.app import plan
from zvkdiag.quicksupport.builtin import BuiltIn
from zvkdiag.quicksupport.main import _parser
p = plan(_parser().parse_args([]), BuiltIn(None, {key!r}))
before = sorted(sys.modules)
trust = p.agent_options()["trust"]
print(json.dumps([before, len(trust.ca_keys)]))
"""


# The customer's screen pipeline at work (a keyframe, a scroll, a moved window, typing),
# with every module the exe leaves out refused: numpy loads parts of itself lazily, at
# the first call that needs them, which importing alone never shows.
RUN_SCRIPT: Final = """
import importlib.abc, sys
EXCLUDES = {excludes!r}
class LeftOut(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if any(name == e or name.startswith(e + ".") for e in EXCLUDES):
            raise ImportError(name + " is left out of the Windows exe")
        return None
sys.meta_path.insert(0, LeftOut())
import numpy as np
from zvkdiag.screen.encoder import FrameEncoder
from zvkdiag.screen.stream import ScreenStreamer
rows = (np.arange(480, dtype=np.uint32) * 2654435761) >> 8
cols = np.arange(640, dtype=np.uint32) * 40503
screen = ((rows[:, None] ^ cols[None, :]) & 0xFF).astype(np.uint8)
screen = np.repeat(screen[:, :, None], 4, axis=2)
screen[..., 1] //= 3
r = np.arange(200, dtype=np.uint64)[:, None]
c = np.arange(300, dtype=np.uint64)[None, :]
h = ((r * np.uint64(73856093)) ^ (c * np.uint64(19349663))) * np.uint64(0x9E3779B97F4A7C15)
colours = np.array([[255, 255, 255, 0], [0, 0, 0, 0], [40, 90, 200, 0], [200, 60, 30, 0]], np.uint8)
window = colours[(h >> np.uint64(61)).astype(np.uint8) & 3]  # four colours, as text has
def desktop(x, y):
    # that window on a wallpaper of one colour per row, at (x, y)
    pixels = np.zeros((480, 640, 4), np.uint8)
    pixels[..., 0] = (np.arange(480) * 200 // 480)[:, None]
    pixels[y : y + 200, x : x + 300] = window
    return pixels
encoder = FrameEncoder()
steps = [
    ("keyframe", screen, 0.0),
    ("scroll", np.roll(screen, -24, axis=0), 0.1),
    ("start", desktop(100, 100), 0.2),
    ("move", desktop(123, 117), 0.3),  # a dragged window: no hint, the content search finds it
]
used = {{}}
for name, pixels, now in steps:
    tiles = encoder.encode(np.ascontiguousarray(pixels), now=now, keyframe=name == "keyframe")
    used[name] = sorted({{t.encoding.name for t in tiles}})
ScreenStreamer(capture=lambda: None)
print(used["scroll"], used["move"])
"""


def test_the_screen_pipeline_runs_without_what_the_exe_leaves_out() -> None:
    excludes = [e for e in load_build().EXCLUDES if not e.startswith("zvkdiag.")]
    assert "numpy.random" in excludes
    done = subprocess.run(
        [sys.executable, "-c", RUN_SCRIPT.format(excludes=excludes)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    scroll, move = done.stdout.strip().splitlines()[-1].split("] [")
    assert "COPY" in scroll and "COPY" in move  # both searches found theirs: their code ran


def _modules(script: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    names: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return names


def _under(names: list[str], prefixes: list[str]) -> list[str]:
    return [n for n in names if any(n == p or n.startswith(p + ".") for p in prefixes)]


def test_the_customer_modules_import_nothing_the_exe_leaves_out() -> None:
    excludes = list(load_build().EXCLUDES)
    assert "PIL" in excludes and "zvkdiag.engineer" in excludes  # the list is the real one
    names = _modules(BUNDLE_SCRIPT)
    assert "zvkdiag.agent.agent" in names and "zvkdiag.screen.stream" in names
    assert "numpy" in names  # the screen stack does need numpy itself
    assert _under(names, excludes) == []


def test_the_window_comes_before_the_agent_stack() -> None:
    names = _modules(WINDOW_SCRIPT)
    assert "tkinter" in names and "zvkdiag.consent.tk_ui" in names
    assert _under(names, ["asyncssh", "zvkdiag.agent.agent", "numpy"]) == []


def test_a_builtin_ca_key_is_read_after_the_window(tmp_path: Path) -> None:
    key = Path(ca.init_ca(tmp_path / "ca")).read_text()
    done = subprocess.run(
        [sys.executable, "-c", BUILTIN_KEY_SCRIPT.format(key=key)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    before, keys = json.loads(done.stdout.strip().splitlines()[-1])
    assert _under(before, ["asyncssh", "cryptography"]) == []  # the window comes first
    assert keys == 1  # and the agent gets the key


def test_the_start_to_the_id_loads_neither_numpy_nor_the_screen_stack() -> None:
    names = _modules(START_SCRIPT)
    assert "zvkdiag.agent.agent" in names and "asyncssh" in names
    assert _under(names, ["numpy", "PIL", "pandas", "zvkdiag.screen.stream"]) == []
    assert _under(names, ["zvkdiag.probes.wire", "zvkdiag.screen.capture"]) == []
    # a proxy's NTLM login and the wss carrier load theirs when used
    assert _under(names, ["spnego", "wsproto"]) == []


def test_the_lazy_package_names_still_resolve() -> None:
    import zvkdiag.probes
    import zvkdiag.screen

    for name in zvkdiag.screen.__all__:
        assert getattr(zvkdiag.screen, name) is not None
    for name in zvkdiag.probes.__all__:
        assert getattr(zvkdiag.probes, name) is not None
