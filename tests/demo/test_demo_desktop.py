"""The demo's virtual screen shows a desktop, not a black rectangle."""

from __future__ import annotations

import shutil
import time

import mss
import numpy as np
import pytest

from zvkdiag.demo import desktop
from zvkdiag.testing.xvfb import xvfb

pytestmark = pytest.mark.x11


def _grab(display: str) -> np.ndarray:
    with mss.MSS(display=display) as sct:
        return np.asarray(sct.grab(sct.monitors[0]))[..., :3]


@pytest.mark.skipif(not shutil.which("xsetroot"), reason="xsetroot is not installed")
def test_the_virtual_screen_has_a_background_and_windows() -> None:
    with xvfb(800, 600) as x, desktop(x.display):
        deadline = time.monotonic() + 15
        while True:
            pixels = _grab(x.display)
            colours = len(np.unique(pixels.reshape(-1, 3), axis=0))
            if colours > 8 or time.monotonic() > deadline:  # text and a clock face drawn
                break
            time.sleep(0.1)
    assert pixels.mean() > 20  # not black
    assert colours > 8  # more than a flat background: programs' windows are on it
