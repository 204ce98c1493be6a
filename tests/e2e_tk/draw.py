"""Draw texts as the customer's main window does, grab them, print the pixels.

Run by ``reference.py`` as a child process: ``python draw.py DISPLAY`` with a
JSON list of ``[kind, text, width]`` on stdin (kind ``code``, ``message`` or ``notice``;
``width`` is the white width of the message area, which wraps at it);
prints a JSON list of ``{"shape": [h, w, 3], "rgb": base64}``.  It is a
process of its own because Tk keeps its X connection open until the process
ends, and the test's Xvfb stops after each test.
"""

from __future__ import annotations

import base64
import json
import sys
import time
import tkinter as tk
from typing import Final

import mss

from zvkdiag.consent import tk_theme as theme

SETTLE: Final = 0.15
"""Seconds for the X server to draw a freshly mapped window."""
MESSAGE_LINES: Final = 5
NOTICE_WRAP: Final = 460
"""The main window's notice wraps at this many pixels (``tk_main.MainWindow._label``)."""


def widget(top: tk.Toplevel, fonts: theme.Fonts, kind: str, value: str, width: int) -> tk.Widget:
    if kind == "notice":  # the red line under the codes (a network problem)
        notice = tk.Label(
            top,
            text=value,
            font=fonts.bold,
            foreground=theme.WARNING,
            background=theme.BG,
            anchor="w",
            justify="left",
            wraplength=NOTICE_WRAP,
        )
        notice.pack()
        return notice
    if kind == "code":
        label = tk.Label(top, text=value, font=fonts.code, background=theme.CODE_BG)
        label.pack()
        return label
    area = tk.Text(
        top,
        width=1,
        height=MESSAGE_LINES,
        wrap="word",
        font=fonts.normal,
        relief="flat",
        background=theme.CODE_BG,
    )
    area.insert("end", value)
    area.pack(fill="x")
    # The main window stretches its message area; make ours just as wide.
    top.geometry(f"{width + 2 * int(area.cget('highlightthickness'))}x{area.winfo_reqheight()}")
    return area


def draw(root: tk.Tk, fonts: theme.Fonts, kind: str, value: str, width: int) -> dict[str, object]:
    top = tk.Toplevel(root, background=theme.CODE_BG)
    top.overrideredirect(True)
    top.geometry(f"+0+{root.winfo_screenheight() - 200}")
    shown = widget(top, fonts, kind, value, width)
    end = time.monotonic() + SETTLE
    while time.monotonic() < end:
        root.update()
        time.sleep(0.01)
    box = {
        "left": shown.winfo_rootx(),
        "top": shown.winfo_rooty(),
        "width": shown.winfo_width(),
        "height": shown.winfo_height(),
    }
    with mss.MSS(display=root.winfo_screen()) as grabber:
        shot = grabber.grab(box)
    top.destroy()
    root.update()
    return {"shape": [shot.height, shot.width, 3], "rgb": base64.b64encode(shot.rgb).decode()}


def main() -> None:
    root = tk.Tk(screenName=sys.argv[1])
    root.withdraw()
    fonts = theme.Fonts(root)
    jobs = json.load(sys.stdin)
    print(json.dumps([draw(root, fonts, kind, value, width) for kind, value, width in jobs]))
    root.destroy()


if __name__ == "__main__":
    main()
