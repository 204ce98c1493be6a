"""X DAMAGE: has anything been drawn on the screen since the last look?

Polling 60 times a second costs a 1080p grab plus a tile diff each time
(~4 ms, ~22 % of a core on this machine) even while nothing moves.  The X
server knows when something is drawn: the DAMAGE extension sends one event
when the root window's damage region goes from empty to non-empty.  The
streamer asks ``DamageWatch.changed()`` before each grab and skips the grab
when nothing was drawn.

Order matters for correctness: ``changed()`` clears the damage region with a
*checked* request, i.e. it waits until the server has processed it, and only
then does the caller grab.  Anything drawn after the clear raises a new event
(so the next turn grabs again); anything drawn before is in the grab.  A
missed change is therefore impossible, a redundant grab is harmless.

Where it can, ``changed()`` also says *where* something was drawn: the
subtract hands the damage over to an XFixes region, whose rectangles come
back with one round trip (``rects``).  The capturer then grabs and compares
only those areas.  Without XFixes (``rects`` stays None) the whole screen is
grabbed as before.

The mouse pointer is not part of the framebuffer (it is blended from XFixes)
and DAMAGE does not see it; where XInput 2 is there, the same connection also
gets pointer motion and image changes as events (``pointer``), and
``take_pointer_news()`` tells the caller when to fetch the pointer again.
``fileno()`` lets the streamer's event loop wake as soon as a DamageNotify
arrives instead of waiting for its next poll (see ``stream``).  xcb is used
through ctypes, as mss does: unlike Xlib it never ends the process when the X
server goes away.  Where libxcb-damage or the extension is missing,
``DamageWatch.open`` returns None and the streamer polls as before.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any, Final

from zvkdiag.screen.pointer import PointerEvents, pointer_position, watch_pointer
from zvkdiag.screen.window_moves import Move, WindowMoves, parse_window_event, select_moves
from zvkdiag.screen.xcbtypes import (
    Cookie,
    ExtensionReply,
    Rectangle,
    ScreenIterator,
    extension,
    load,
)

__all__ = ["DamageWatch", "Rects"]

Rects = tuple[tuple[int, int, int, int], ...]  # (x, y, width, height) in root coordinates

REPORT_NON_EMPTY: Final = 3  # XCB_DAMAGE_REPORT_LEVEL_NON_EMPTY
DAMAGE_NOTIFY: Final = 0


def _libs() -> tuple[Any, Any, Any] | None:
    xcb, damage, libc = (load(name) for name in ("xcb", "xcb-damage", "c"))
    if xcb is None or damage is None or libc is None:
        return None
    _declare(xcb, damage, libc)
    return xcb, damage, libc


def _declare(xcb: Any, damage: Any, libc: Any) -> None:
    vp, u32 = ctypes.c_void_p, ctypes.c_uint32
    xcb.xcb_connect.restype = vp
    xcb.xcb_connect.argtypes = (ctypes.c_char_p, ctypes.POINTER(ctypes.c_int))
    xcb.xcb_connection_has_error.argtypes = (vp,)
    xcb.xcb_disconnect.argtypes = (vp,)
    xcb.xcb_get_setup.restype = vp
    xcb.xcb_get_setup.argtypes = (vp,)
    xcb.xcb_setup_roots_iterator.restype = ScreenIterator
    xcb.xcb_setup_roots_iterator.argtypes = (vp,)
    xcb.xcb_screen_next.argtypes = (ctypes.POINTER(ScreenIterator),)
    xcb.xcb_generate_id.restype = u32
    xcb.xcb_generate_id.argtypes = (vp,)
    xcb.xcb_get_extension_data.restype = ctypes.POINTER(ExtensionReply)
    xcb.xcb_get_extension_data.argtypes = (vp, vp)
    xcb.xcb_request_check.restype = vp
    xcb.xcb_request_check.argtypes = (vp, Cookie)
    xcb.xcb_poll_for_event.restype = vp
    xcb.xcb_poll_for_event.argtypes = (vp,)
    xcb.xcb_poll_for_queued_event.restype = vp
    xcb.xcb_poll_for_queued_event.argtypes = (vp,)
    xcb.xcb_get_file_descriptor.restype = ctypes.c_int
    xcb.xcb_get_file_descriptor.argtypes = (vp,)
    damage.xcb_damage_query_version.restype = Cookie
    damage.xcb_damage_query_version.argtypes = (vp, u32, u32)
    damage.xcb_damage_query_version_reply.restype = vp
    damage.xcb_damage_query_version_reply.argtypes = (vp, Cookie, vp)
    damage.xcb_damage_create_checked.restype = Cookie
    damage.xcb_damage_create_checked.argtypes = (vp, u32, u32, ctypes.c_uint8)
    damage.xcb_damage_subtract_checked.restype = Cookie
    damage.xcb_damage_subtract_checked.argtypes = (vp, u32, u32, u32)
    damage.xcb_damage_subtract.restype = Cookie
    damage.xcb_damage_subtract.argtypes = (vp, u32, u32, u32)
    libc.free.argtypes = (vp,)


def _xfixes() -> Any | None:
    xfixes = load("xcb-xfixes")
    if xfixes is None:
        return None
    vp, u32 = ctypes.c_void_p, ctypes.c_uint32
    xfixes.xcb_xfixes_query_version.restype = Cookie
    xfixes.xcb_xfixes_query_version.argtypes = (vp, u32, u32)
    xfixes.xcb_xfixes_query_version_reply.restype = vp
    xfixes.xcb_xfixes_query_version_reply.argtypes = (vp, Cookie, vp)
    xfixes.xcb_xfixes_create_region_checked.restype = Cookie
    xfixes.xcb_xfixes_create_region_checked.argtypes = (vp, u32, u32, vp)
    xfixes.xcb_xfixes_fetch_region.restype = Cookie
    xfixes.xcb_xfixes_fetch_region.argtypes = (vp, u32)
    xfixes.xcb_xfixes_fetch_region_reply.restype = vp
    xfixes.xcb_xfixes_fetch_region_reply.argtypes = (vp, Cookie, vp)
    xfixes.xcb_xfixes_fetch_region_rectangles.restype = ctypes.POINTER(Rectangle)
    xfixes.xcb_xfixes_fetch_region_rectangles.argtypes = (vp,)
    xfixes.xcb_xfixes_fetch_region_rectangles_length.restype = ctypes.c_int
    xfixes.xcb_xfixes_fetch_region_rectangles_length.argtypes = (vp,)
    return xfixes


class DamageWatch:
    """One xcb connection with a DAMAGE object on the root window (one thread only)."""

    def __init__(self, libs: tuple[Any, Any, Any], conn: int, damage_id: int, event: int) -> None:
        self._xcb, self._damage, self._libc = libs
        self._conn: int | None = conn
        self._id = damage_id
        self._event = event
        self._pending = False
        self._xfixes: Any | None = None
        self._region = 0
        self._pointer: PointerEvents | None = None
        self._pointer_news = False
        self._pointer_at: tuple[int, int] | None = None
        self._root = 0
        self._moves: WindowMoves | None = None
        self.rects: Rects | None = None

    def _track_areas(self) -> None:
        """Set up the XFixes region that ``changed()`` fetches the drawn areas into."""
        xfixes = _xfixes()
        if xfixes is None or self._conn is None:
            return
        reply = xfixes.xcb_xfixes_query_version_reply(
            self._conn, xfixes.xcb_xfixes_query_version(self._conn, 5, 0), None
        )
        if not reply:
            return
        self._libc.free(reply)
        region = int(self._xcb.xcb_generate_id(self._conn))
        error = self._xcb.xcb_request_check(
            self._conn, xfixes.xcb_xfixes_create_region_checked(self._conn, region, 0, None)
        )
        if error:
            self._libc.free(error)
            return
        self._xfixes, self._region = xfixes, region

    @classmethod
    def open(cls, display: str | None = None) -> DamageWatch | None:
        """A watch on ``display`` (or ``$DISPLAY``); None where DAMAGE is unavailable."""
        libs = _libs()
        name = display or os.environ.get("DISPLAY")
        if libs is None or not name:
            return None
        xcb = libs[0]
        screen = ctypes.c_int(0)
        conn = xcb.xcb_connect(name.encode(), ctypes.byref(screen))
        if not conn or xcb.xcb_connection_has_error(conn):
            if conn:
                xcb.xcb_disconnect(conn)
            return None
        watch = cls._attach(libs, conn, screen.value)
        if watch is None:
            xcb.xcb_disconnect(conn)
        else:
            watch._track_areas()
            watch._root = _root(xcb, conn, screen.value)
            watch._pointer = watch_pointer(xcb, libs[2], conn, watch._root)
            if select_moves(xcb, libs[2], conn, watch._root):
                watch._moves = WindowMoves()
            watch._keep_queued()  # the set-up waited for replies too
        return watch

    @classmethod
    def _attach(cls, libs: tuple[Any, Any, Any], conn: int, screen: int) -> DamageWatch | None:
        xcb, damage, libc = libs
        ext = extension(xcb, conn, damage, "xcb_damage_id")
        if ext is None:
            return None
        first_event = int(ext.first_event)
        reply = damage.xcb_damage_query_version_reply(
            conn, damage.xcb_damage_query_version(conn, 1, 1), None
        )
        if not reply:
            return None
        libc.free(reply)
        damage_id = int(xcb.xcb_generate_id(conn))
        cookie = damage.xcb_damage_create_checked(
            conn, damage_id, _root(xcb, conn, screen), REPORT_NON_EMPTY
        )
        error = xcb.xcb_request_check(conn, cookie)
        if error:
            libc.free(error)
            return None
        return cls(libs, conn, damage_id, first_event + DAMAGE_NOTIFY)

    def fileno(self) -> int:
        """The X connection's socket: readable when an event (a DamageNotify) waits.

        For an event loop's ``add_reader`` only; reading and every request stay
        on the watch's own thread.  -1 once closed.
        """
        if self._conn is None:
            return -1
        return int(self._xcb.xcb_get_file_descriptor(self._conn))

    def changed(self) -> bool:
        """True if anything was drawn since the previous call (the first call: True).

        Clears the damage and waits until the server has done so; grab after this.
        Afterwards ``rects`` holds the areas drawn on (None: unknown, assume
        everything; empty when nothing was drawn).
        """
        self.rects = None
        if self._conn is None:
            return True
        seen = self._take_events(self._xcb.xcb_poll_for_event) or self._pending
        self._pending = False
        if self._xcb.xcb_connection_has_error(self._conn):
            return True  # the display is gone: let the grab report it
        if seen and self._xfixes is not None:
            self.rects = self._subtract_into_region()
        elif seen:
            cookie = self._damage.xcb_damage_subtract_checked(self._conn, self._id, 0, 0)
            error = self._xcb.xcb_request_check(self._conn, cookie)
            if error:
                self._libc.free(error)
        else:
            self.rects = ()
        self._keep_queued()
        return seen

    def _subtract_into_region(self) -> Rects | None:
        """Clear the damage, moving it into our region, and read the region back.

        The fetch's reply comes after the server has done the subtract (one
        round trip, like the checked subtract without XFixes).
        """
        assert self._xfixes is not None
        self._damage.xcb_damage_subtract(self._conn, self._id, 0, self._region)
        reply = self._xfixes.xcb_xfixes_fetch_region_reply(
            self._conn, self._xfixes.xcb_xfixes_fetch_region(self._conn, self._region), None
        )
        if not reply:
            return None
        try:
            count = self._xfixes.xcb_xfixes_fetch_region_rectangles_length(reply)
            rects = self._xfixes.xcb_xfixes_fetch_region_rectangles(reply)
            return tuple((r.x, r.y, r.width, r.height) for r in rects[:count])
        finally:
            self._libc.free(reply)

    @property
    def pending(self) -> bool:
        """Something was drawn that ``fileno()`` will not signal: call ``changed()`` again."""
        return self._pending

    @property
    def watches_pointer(self) -> bool:
        """Pointer motion and cursor changes wake ``fileno()`` too (see ``pointer``)."""
        return self._pointer is not None

    def take_pointer_news(self, *, ask_position: bool = True) -> bool:
        """Whether the pointer moved or changed its image since the last call: fetch it.

        The events are read by ``changed()``, along with the damage; a pointer
        warped by a program sends none, so its position is asked too (see
        ``pointer``), unless ``ask_position`` is False (the events alone, no
        round trip).  Always True without ``watches_pointer``: then nothing
        tells, so ask every time.
        """
        if self._pointer is None or self._conn is None:
            return True
        moved = False
        if ask_position:
            where = pointer_position(self._xcb, self._libc, self._conn, self._root)
            self._keep_queued()
            moved, self._pointer_at = where != self._pointer_at, where
        news, self._pointer_news = self._pointer_news, False
        return news or moved

    def take_moves(self) -> list[Move]:
        """Top-level windows moved since the last call, in root coordinates (see ``moves``).

        The events are read by ``changed()``; empty where they are not selected.
        """
        return [] if self._moves is None else self._moves.take()

    def _keep_queued(self) -> None:
        """After waiting for a reply: keep a DamageNotify that xcb read along with it.

        Such an event sits in xcb's queue, not in the socket, so no wake-up will
        come for it; ``pending`` says so, and the next ``changed()`` takes it.
        """
        if self._take_events(self._xcb.xcb_poll_for_queued_event):
            self._pending = True

    def _take_events(self, poll: Any) -> bool:
        seen = False
        while event := poll(self._conn):
            kind = ctypes.cast(event, ctypes.POINTER(ctypes.c_uint8))[0] & 0x7F
            seen = seen or kind == self._event
            if self._pointer is not None and self._pointer.is_pointer_news(event):
                self._pointer_news = True
            elif self._moves is not None and (window := parse_window_event(event)):
                self._moves.note(*window)
            self._libc.free(event)
        return seen

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._xcb.xcb_disconnect(conn)


def _root(xcb: Any, conn: int, screen: int) -> int:
    it = xcb.xcb_setup_roots_iterator(xcb.xcb_get_setup(conn))
    for _ in range(screen):
        xcb.xcb_screen_next(ctypes.byref(it))
    return int(ctypes.cast(it.data, ctypes.POINTER(ctypes.c_uint32))[0])  # xcb_screen_t.root
