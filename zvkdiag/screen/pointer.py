"""Pointer news as X events: XInput 2 raw motion and XFixes cursor changes.

The mouse pointer is not part of the framebuffer, and X DAMAGE does not report
it.  Without events the streamer fetches the pointer's image from the X server
on every tick, 60 times a second while the screen is busy (a round trip, a
2-4 KB reply and ~40 us of Python each).  With these two event kinds selected
on the DAMAGE connection, its socket also turns readable when a device moves
the pointer (``XI_RawMotion``, delivered on the root window whatever window is
under the pointer and whoever grabbed it) or the pointer changes its image
(XFixes ``CursorNotify``); the image is then fetched only when one of them
says so.

What no event reports: a pointer moved by a program with ``XWarpPointer`` (no
device moved, so no raw motion; ``xdotool mousemove`` is one).  For that the
ticks remain, slower (``WARP_POLL``: a warp shows up to 0.25 s late; each tick
wakes the capture worker, ~0.25 ms of CPU on a busy 2-core machine, so 15 of
them a second were most of a still screen's cost), and ask only where the
pointer is (``pointer_position``, a 32-byte reply).  Where libxcb-xinput or the
extensions are missing, ``watch_pointer`` returns None and the streamer polls
the image as before.
"""

from __future__ import annotations

import ctypes
import struct
from dataclasses import dataclass
from typing import Any, Final

from zvkdiag.screen.xcbtypes import Cookie, ReplyHead, extension, load

__all__ = ["WARP_POLL", "PointerEvents", "pointer_position", "watch_pointer"]

WARP_POLL: Final = 0.25  # seconds between checks for a warped pointer, where events tell the rest

GENERIC_EVENT: Final = 35  # XGE: XInput 2 events come as these
XI_ALL_DEVICES: Final = 0
XI_RAW_MOTION: Final = 17
XFIXES_CURSOR_NOTIFY: Final = 1  # first_event + this
XFIXES_DISPLAY_CURSOR_MASK: Final = 1


class _XIVersion(ReplyHead):
    _fields_ = (
        ("major_version", ctypes.c_uint16),
        ("minor_version", ctypes.c_uint16),
    )


class _PointerReply(ReplyHead):
    _fields_ = (
        ("root", ctypes.c_uint32),
        ("child", ctypes.c_uint32),
        ("root_x", ctypes.c_int16),
        ("root_y", ctypes.c_int16),
    )


@dataclass(frozen=True, slots=True)
class PointerEvents:
    """How to tell pointer news among the events of the connection they were selected on."""

    xinput_opcode: int  # the extension byte of XInput's generic events
    cursor_notify: int  # XFixes CursorNotify's event code

    def is_pointer_news(self, event: Any) -> bool:
        """``event``: an ``xcb_generic_event_t *`` from ``xcb_poll_for_event``."""
        head = ctypes.cast(event, ctypes.POINTER(ctypes.c_uint8))
        kind = int(head[0]) & 0x7F
        if kind == GENERIC_EVENT:
            return int(head[1]) == self.xinput_opcode
        return kind == self.cursor_notify


def pointer_position(xcb: Any, libc: Any, conn: int, root: int) -> tuple[int, int] | None:
    """Where the pointer is on ``root`` (one small round trip); None if the server did not say.

    Cheaper than fetching the pointer's image: what a tick asks when the image's
    changes arrive as events.
    """
    reply = xcb.xcb_query_pointer_reply(conn, xcb.xcb_query_pointer(conn, root), None)
    if not reply:
        return None
    try:
        return int(reply.contents.root_x), int(reply.contents.root_y)
    finally:
        libc.free(reply)


def _declare(xcb: Any, xinput: Any, xfixes: Any) -> None:
    vp, u16, u32 = ctypes.c_void_p, ctypes.c_uint16, ctypes.c_uint32
    xcb.xcb_query_pointer.restype = Cookie
    xcb.xcb_query_pointer.argtypes = (vp, u32)
    xcb.xcb_query_pointer_reply.restype = ctypes.POINTER(_PointerReply)
    xcb.xcb_query_pointer_reply.argtypes = (vp, Cookie, vp)
    xinput.xcb_input_xi_query_version.restype = Cookie
    xinput.xcb_input_xi_query_version.argtypes = (vp, u16, u16)
    xinput.xcb_input_xi_query_version_reply.restype = ctypes.POINTER(_XIVersion)
    xinput.xcb_input_xi_query_version_reply.argtypes = (vp, Cookie, vp)
    xinput.xcb_input_xi_select_events_checked.restype = Cookie
    xinput.xcb_input_xi_select_events_checked.argtypes = (vp, u32, u16, vp)
    xfixes.xcb_xfixes_select_cursor_input_checked.restype = Cookie
    xfixes.xcb_xfixes_select_cursor_input_checked.argtypes = (vp, u32, u32)


def watch_pointer(xcb: Any, libc: Any, conn: int, root: int) -> PointerEvents | None:
    """Select raw motion and cursor changes on ``root``; None where that is not possible.

    ``xcb`` and ``libc`` are the caller's loaded libraries (declared as in
    ``damage``), ``conn`` its connection: the events arrive there, among its own.
    """
    xinput, xfixes = load("xcb-xinput"), load("xcb-xfixes")
    if xinput is None or xfixes is None:
        return None
    _declare(xcb, xinput, xfixes)
    ext_input = extension(xcb, conn, xinput, "xcb_input_id")
    ext_fixes = extension(xcb, conn, xfixes, "xcb_xfixes_id")
    if ext_input is None or ext_fixes is None:
        return None
    version = xinput.xcb_input_xi_query_version_reply(
        conn, xinput.xcb_input_xi_query_version(conn, 2, 2), None
    )
    if not version:
        return None
    major = int(version.contents.major_version)
    libc.free(version)
    if major < 2:
        return None
    mask = struct.pack("=HHI", XI_ALL_DEVICES, 1, 1 << XI_RAW_MOTION)  # one xcb_input_event_mask_t
    requests = (
        xinput.xcb_input_xi_select_events_checked(conn, root, 1, mask),
        xfixes.xcb_xfixes_select_cursor_input_checked(conn, root, XFIXES_DISPLAY_CURSOR_MASK),
    )
    failed = False
    for cookie in requests:
        error = xcb.xcb_request_check(conn, cookie)
        if error:
            libc.free(error)
            failed = True
    if failed:
        return None
    return PointerEvents(
        xinput_opcode=int(ext_input.major_opcode),
        cursor_notify=int(ext_fixes.first_event) + XFIXES_CURSOR_NOTIFY,
    )
