"""Window moves as X events: ConfigureNotify of the root window's children.

A dragged window changes every tile it covers, where it is and where it was,
25 times a second in the bench scenario; re-encoding it each time was most of
the customer's CPU in that phase.  Its pixels are those the viewer already
shows, a few pixels away: one ``COPY`` moves them, and only the uncovered
background travels.  The X server says which window moved and where: with
``SubstructureNotify`` selected on the root window (on the DAMAGE connection,
so the events arrive with the damage), every top-level window's new geometry
comes as a ``ConfigureNotify``.  Under a window manager the top-level windows
are its frames, which is what moves on the screen.

``WindowMoves`` (pure, no I/O) remembers each window's geometry and, at each
grab, hands out the moves since the previous one: (where it was, where it is),
same size.  A hint only: the encoder verifies every copied pixel against the
grab, so a move it got wrong costs bytes, never a wrong picture.
"""

from __future__ import annotations

import ctypes
from typing import Any, Final

from zvkdiag.screen.tiles import Rect
from zvkdiag.screen.xcbtypes import Cookie

__all__ = ["Move", "WindowMoves", "parse_window_event", "select_moves"]

DESTROY_NOTIFY: Final = 17
CONFIGURE_NOTIFY: Final = 22
CW_EVENT_MASK: Final = 1 << 11
SUBSTRUCTURE_NOTIFY: Final = 1 << 19

Move = tuple[Rect, Rect]  # (where the window was at the previous grab, where it is now)


class _ConfigureNotify(ctypes.Structure):
    _fields_ = (
        ("response_type", ctypes.c_uint8),
        ("pad0", ctypes.c_uint8),
        ("sequence", ctypes.c_uint16),
        ("event", ctypes.c_uint32),
        ("window", ctypes.c_uint32),
        ("above_sibling", ctypes.c_uint32),
        ("x", ctypes.c_int16),
        ("y", ctypes.c_int16),
        ("width", ctypes.c_uint16),
        ("height", ctypes.c_uint16),
        ("border_width", ctypes.c_uint16),
    )


def select_moves(xcb: Any, libc: Any, conn: int, root: int) -> bool:
    """Ask for ConfigureNotify of the root's children on ``conn``; False if refused."""
    xcb.xcb_change_window_attributes_checked.restype = Cookie
    xcb.xcb_change_window_attributes_checked.argtypes = (
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_uint32,
        ctypes.c_void_p,
    )
    mask = (ctypes.c_uint32 * 1)(SUBSTRUCTURE_NOTIFY)
    cookie = xcb.xcb_change_window_attributes_checked(conn, root, CW_EVENT_MASK, mask)
    error = xcb.xcb_request_check(conn, cookie)
    if error:
        libc.free(error)
        return False
    return True


def parse_window_event(event: Any) -> tuple[int, Rect | None] | None:
    """(window, outer rectangle in root coordinates) of a ConfigureNotify, (window, None)
    of a DestroyNotify, None for any other event.

    ``event``: an ``xcb_generic_event_t *``.  Both events start alike (the
    window is the second 32-bit field).
    """
    head = ctypes.cast(event, ctypes.POINTER(_ConfigureNotify)).contents
    kind = head.response_type & 0x7F
    if kind == DESTROY_NOTIFY:
        return int(head.window), None
    if kind != CONFIGURE_NOTIFY or head.event == head.window:
        return None
    border = 2 * int(head.border_width)
    rect = Rect(int(head.x), int(head.y), int(head.width) + border, int(head.height) + border)
    return int(head.window), rect


class WindowMoves:
    """Each window's geometry, and its moves since the last ``take()``."""

    def __init__(self) -> None:
        self._at_take: dict[int, Rect] = {}  # where each window was at the last take()
        self._now: dict[int, Rect] = {}

    def note(self, window: int, rect: Rect | None) -> None:
        """``window`` is at ``rect`` now; None: it is gone."""
        if rect is None:
            self._now.pop(window, None)
            self._at_take.pop(window, None)
            return
        self._now[window] = rect
        self._at_take.setdefault(window, rect)  # first seen: its earlier place is unknown

    def take(self) -> list[Move]:
        """The windows that moved (same size, new place) since the last call, biggest first."""
        moves = [
            (old, new)
            for window, new in self._now.items()
            if (old := self._at_take[window]) != new and (old.w, old.h) == (new.w, new.h)
        ]
        self._at_take = dict(self._now)
        return sorted(moves, key=lambda move: -move[1].w * move[1].h)
