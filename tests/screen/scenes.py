"""Helpers for the screen tests: synthetic screens, an in-memory transport, a Tk scene."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Awaitable, Callable

import numpy as np
import numpy.typing as npt

Pixels = npt.NDArray[np.uint8]


def text_screen(height: int = 240, width: int = 320, seed: int = 1) -> Pixels:
    """A white screen with black 'glyphs': compresses like terminal text."""
    rng = np.random.default_rng(seed)
    pixels = np.full((height, width, 4), 255, np.uint8)
    pixels[..., 3] = 0  # X leaves the fourth byte at 0
    for row in range(4, height - 12, 16):
        for col in range(4, width - 8, 9):
            if rng.random() < 0.7:
                glyph = rng.random((10, 6)) < 0.4
                pixels[row : row + 10, col : col + 6, :3][glyph] = 0
    return pixels


def photo_patch(height: int, width: int, seed: int = 2) -> Pixels:
    """Noisy gradient: too big for lossless, so it travels as JPEG first."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([xx * 255 // max(width, 1), yy * 255 // max(height, 1), (xx + yy) % 256], -1)
    noisy = base + rng.integers(-40, 40, base.shape)
    patch = np.zeros((height, width, 4), np.uint8)
    patch[..., :3] = np.clip(noisy, 0, 255)
    return patch


class MemoryPipe:
    """One direction of an in-memory message transport; ``close()`` makes reads raise EOF."""

    def __init__(self, maxsize: int = 0) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize)
        self.messages = 0
        self.bytes = 0

    async def write(self, blob: bytes) -> None:
        self.messages += 1
        self.bytes += len(blob)
        await self.queue.put(blob)

    async def read(self) -> bytes:
        blob = await self.queue.get()
        if blob is None:
            raise EOFError
        return blob

    def close(self) -> None:
        self.queue.put_nowait(None)


def reader_with_timeout(pipe: MemoryPipe, seconds: float) -> Callable[[], Awaitable[bytes]]:
    """A read that ends the stream (EOF) once nothing arrived for ``seconds``: 'settled'."""

    async def read() -> bytes:
        try:
            return await asyncio.wait_for(pipe.read(), seconds)
        except TimeoutError:
            raise EOFError from None

    return read


TK_SCENE = textwrap.dedent(
    """
    import sys, tkinter as tk
    root = tk.Tk()
    root.overrideredirect(True)
    root.geometry("420x300+30+20")
    root.configure(bg="white")
    text = tk.Label(root, text=sys.argv[1], font=("Courier", 12), bg="white", justify="left")
    text.place(x=8, y=8)
    img = tk.PhotoImage(width=160, height=120)
    def rgb(x, y):
        return "#%02x%02x%02x" % ((x * 7 + y * 3) % 256, (x * y) % 256, (x ^ y) * 2 % 256)
    rows = ["{" + " ".join(rgb(x, y) for x in range(160)) + "}" for y in range(120)]
    img.put(" ".join(rows))
    tk.Label(root, image=img, bd=0).place(x=240, y=160)
    status = tk.Label(root, text="", font=("Courier", 12), bg="white")
    status.place(x=8, y=250)

    def on_line(*_):
        line = sys.stdin.readline()
        if not line:
            root.destroy()
            return
        status.config(text=line.rstrip("\\n"))
        root.after(50, lambda: print("done", flush=True))

    root.tk.createfilehandler(sys.stdin, tk.READABLE, on_line)
    root.after(200, lambda: print("shown", flush=True))
    root.mainloop()
    """
)


class ChangingScreen:
    """An honest fake capturer: a text screen whose counter area changes on every grab."""

    def __init__(self, height: int = 128, width: int = 192) -> None:
        self.base = text_screen(height, width)
        self.grabs = 0
        self.closed = False

    def grab(self) -> Pixels:
        if self.closed:
            raise RuntimeError("grab after close")
        self.grabs += 1
        frame = self.base.copy()
        frame[0:8, 0:64, 0] = self.grabs % 256
        frame[0:8, 0:64, 1] = self.grabs // 256
        return frame

    def close(self) -> None:
        self.closed = True


async def until(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 (polls counters of a fake, nothing to wait on)
            await asyncio.sleep(0.005)
