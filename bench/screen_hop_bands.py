"""The second hop's first picture of a real screen: one palette, bands of palettes, or RGB.

Starts Xvfb with scenario B's windows (``screen_office.py setup``: antialiased Tk text
on a blue desktop) or an empty blue desktop, grabs the screen, and builds the browser
message of a keyframe with ``BrowserHop`` (what is sent now), against deflate level 6 of
its RGB (what a frame with more than 256 colours was sent as before banded palettes).
Loopback X11 only.

    .venv/bin/python bench/screen_hop_bands.py [--width 1024 --height 768]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import mss
import numpy as np
import pandas as pd

from zvkdiag.screen.browser import BrowserHop
from zvkdiag.screen.codec import Encoding, encode_lossless
from zvkdiag.screen.frames import Frame, Tile
from zvkdiag.screen.reassemble import Canvas
from zvkdiag.testing.xvfb import xvfb

HERE = Path(__file__).resolve().parent


def grab(display: str) -> np.ndarray:
    with mss.MSS(display=display) as sct:
        shot = sct.grab(sct.monitors[0])
        return np.array(shot, np.uint8).reshape(shot.height, shot.width, 4)


def message_bytes(bgrx: np.ndarray) -> tuple[int, list[str]]:
    h, w = bgrx.shape[:2]
    tiles = tuple(
        Tile(x, y, min(64, w - x), min(64, h - y), Encoding.LOSSLESS,
             encode_lossless(np.ascontiguousarray(bgrx[y : y + 64, x : x + 64])))
        for y in range(0, h, 64) for x in range(0, w, 64)
    )  # fmt: skip
    canvas = Canvas()
    frame = Frame(1, w, h, 0.0, True, tiles)
    canvas.apply(frame)
    content, buffers = BrowserHop().frame_message(frame, canvas, wire_bytes=1)
    return sum(map(len, buffers)), sorted({str(t[4]) for t in content["tiles"]})


def rgb_deflated(bgrx: np.ndarray) -> int:
    rgb = np.ascontiguousarray(bgrx[..., 2::-1]).tobytes()
    deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return len(deflate.compress(rgb) + deflate.flush(zlib.Z_SYNC_FLUSH))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--height", type=int, default=768)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'screen':<22} {'colours':>8} {'RGB l6 KB':>10} {'now KB':>8} {'now/RGB':>8}  kinds")
    for name in ("scenario B windows", "empty desktop"):
        with xvfb(args.width, args.height) as x, tempfile.TemporaryDirectory() as work:
            env = x.env()
            if name == "empty desktop":
                subprocess.run(["xsetroot", "-solid", "#3a6ea5"], env=env, check=True)
            else:
                subprocess.run(
                    [sys.executable, str(HERE / "screen_office.py"), "setup", "--workdir", work],
                    env=env, check=True, stdout=subprocess.DEVNULL,
                )  # fmt: skip
            time.sleep(1.0)
            bgrx = grab(x.display)
            if name != "empty desktop":
                subprocess.run(
                    [sys.executable, str(HERE / "screen_office.py"), "teardown", "--workdir", work],
                    env=env, check=False, stdout=subprocess.DEVNULL,
                )  # fmt: skip
        words = (bgrx.view("<u4")[..., 0] & 0xFFFFFF).ravel()
        colours = len(pd.unique(words))
        rgb = rgb_deflated(bgrx)
        now, kinds = message_bytes(bgrx)
        print(
            f"{name:<22} {colours:>8} {rgb / 1024:>10.1f} {now / 1024:>8.1f} "
            f"{now / rgb:>7.2f}x  {','.join(kinds)}"
        )


if __name__ == "__main__":
    main()
