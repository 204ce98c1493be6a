"""Pixels of a canvas in a Playwright page, and of an X screen, for exactness checks.

Both come back as (height, width, 3) RGB arrays, so a test says
``np.array_equal(canvas_pixels(page, sel), screen_pixels(display))``: the
engineer's canvas against what the customer's screen shows, pointer
included (the agent captures it too).
"""

from __future__ import annotations

import base64
from typing import Any, Final

import mss
import numpy as np
import numpy.typing as npt

__all__ = ["canvas_pixels", "screen_pixels"]

# getImageData as base64, in slices (String.fromCharCode takes a bounded number of arguments).
_READ_CANVAS: Final = """(sel) => {
  const c = document.querySelector(sel);
  const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let s = ''; const step = 0x8000;
  for (let i = 0; i < data.length; i += step) {
    s += String.fromCharCode.apply(null, data.subarray(i, i + step));
  }
  return [c.width, c.height, btoa(s)];
}"""


def canvas_pixels(page: Any, selector: str) -> npt.NDArray[np.uint8]:
    """The RGB pixels of the first canvas matching ``selector`` (a Playwright sync page)."""
    width, height, data = page.evaluate(_READ_CANVAS, selector)
    rgba = np.frombuffer(base64.b64decode(data), np.uint8).reshape(height, width, 4)
    return rgba[..., :3]


def screen_pixels(display: str) -> npt.NDArray[np.uint8]:
    """The RGB pixels of an X screen, mouse pointer included (mss's own blend)."""
    with mss.MSS(display=display, with_cursor=True) as sct:
        shot = sct.grab(sct.monitors[0])
        return np.frombuffer(shot.rgb, np.uint8).reshape(shot.height, shot.width, 3)
