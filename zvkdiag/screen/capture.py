"""Screen capture with mss (XShm on X11): BGRX numpy frames, cursor included.

mss hands out a fresh ``bytearray`` per grab; ``np.frombuffer`` wraps it
without a copy, so a frame costs one XShm transfer (~0.5-2 ms for 1080p
here).  The mouse cursor comes from XFixes through mss.  mss's own blend
(``with_cursor=True``) is a Python loop over the cursor's pixels costing
1.5-4.5 ms a frame, so we fetch the cursor image from mss's backend and blend
it with numpy (~0.1 ms) using the same arithmetic, pixel for pixel.  That
backend call is not public mss API: where it is missing (another mss version
or platform) we fall back to mss's ``with_cursor`` blend; where XFixes is
missing, ``Capturer.has_cursor`` turns False and frames come without it.

``grab_changed()`` is what the streamer uses: with X DAMAGE areas known it
grabs only those (and the pointer's old and new place) into one frame buffer
it keeps, so a typed letter costs a tile or two instead of a 1080p transfer.

An ``MSS`` object belongs to the thread that uses it: the streamer creates
the capturer and grabs from one worker thread only.
"""

from __future__ import annotations

import select
import time
from dataclasses import dataclass
from typing import Any, Final, Protocol

import mss
import numpy as np
import numpy.typing as npt

from zvkdiag._errors import ZvkdiagError
from zvkdiag.screen.damage import DamageWatch, Rects
from zvkdiag.screen.pointer import WARP_POLL
from zvkdiag.screen.tiles import TILE, Rect, align, compact_box, cover, inside, minus
from zvkdiag.screen.window_moves import Move

__all__ = [
    "CaptureError",
    "Capturer",
    "Grabber",
    "MonitorInfo",
    "blend_cursor",
    "list_monitors",
]

Pixels = npt.NDArray[np.uint8]

MAX_PARTS: Final = 16  # more separate areas than this: grab the whole screen at once
POSITION_EVERY: Final = WARP_POLL  # seconds: how often a look asks where the pointer is


class Grabber(Protocol):
    """What the streamer needs from a capturer (tests use a synthetic one)."""

    def grab(self) -> Pixels: ...

    def close(self) -> None: ...


class CaptureError(ZvkdiagError):
    """The screen could not be captured (no display, monitor gone)."""


@dataclass(frozen=True, slots=True)
class MonitorInfo:
    """One entry of ``list_monitors``; index 0 is all monitors together (mss convention)."""

    index: int
    left: int
    top: int
    width: int
    height: int
    name: str
    primary: bool


def list_monitors(display: str | None = None) -> list[MonitorInfo]:
    """The monitors of this display; ``[0]`` spans all of them.

    Raises
    ------
    CaptureError
        No X display can be opened.
    """
    with _open(display, with_cursor=False) as sct:
        return [_info(i, m) for i, m in enumerate(sct.monitors)]


class Capturer:
    """Grabs one monitor as (height, width, 4) BGRX arrays.

    Parameters
    ----------
    monitor
        Index into ``list_monitors()``: 0 is the whole virtual screen
        (every monitor), 1.. single monitors.
    display
        X display name; None uses ``$DISPLAY``.
    with_cursor
        Blend the mouse pointer into each frame (what the customer sees).
    """

    def __init__(
        self, monitor: int = 0, *, display: str | None = None, with_cursor: bool = True
    ) -> None:
        self._cursor_source = _cursor_source(display) if with_cursor else None
        mss_blends = with_cursor and self._cursor_source is None
        self._sct = _open(display, with_cursor=mss_blends)
        self._has_cursor = with_cursor
        monitors = self._sct.monitors
        if not 0 <= monitor < len(monitors):
            self.close()
            count = len(monitors) - 1
            raise CaptureError(f"there is no monitor {monitor} (this screen has {count})")
        self.monitor = _info(monitor, monitors[monitor])
        self._region = dict(monitors[monitor])
        self._damage = DamageWatch.open(display)
        self._last_cursor: tuple[int, int, bytes] | None = None
        self._areas: list[Rect] | None = None  # drawn since the last grab; None: not known
        self._frame: Pixels | None = None  # grab_changed()'s buffer, updated in place
        self._cursor_rect = Rect(0, 0, 0, 0)  # where the pointer is blended into it
        self._cursor: tuple[Pixels, Rect] | None = None  # the image blended there
        self._pointer_dirty = False  # quiet() saw the pointer change: grab_changed() must too
        self._position_asked = -POSITION_EVERY
        self.moves: list[Move] = []  # windows moved before the last grab (see ``moves``)
        self.cursor_fetches = 0  # pointer images asked of the X server

    def _no_areas(self) -> list[Rect] | None:
        """Nothing drawn yet since a grab; without DAMAGE (Windows) that is not known."""
        return [] if self._damage is not None else None

    def quiet(self) -> bool:
        """True when nothing was drawn and the pointer is unchanged since the last grab.

        Uses X DAMAGE (see ``damage``); without it, always False (poll).  A
        False answer clears the damage record: grab right after it.
        """
        if self._damage is None:
            return False
        if self._damage.changed():
            self._note_drawn(self._damage.rects)
            return False  # grab at once: ``grab_changed`` fetches the pointer afterwards
        if self._cursor_source is None or not self._has_cursor:
            return True
        if not self._damage.take_pointer_news(ask_position=self._position_due()):
            return True  # no motion, no new pointer image: nothing to ask the server
        try:
            cursor = self._cursor_source.cursor()
        except mss.ScreenShotError:
            return False
        self.cursor_fetches += 1
        same = _cursor_key(cursor) == self._last_cursor
        self._pointer_dirty = self._pointer_dirty or not same
        return same

    def _note_drawn(self, rects: Rects | None) -> None:
        if rects is None or self._areas is None:
            self._areas = None
            return
        left, top = int(self._region["left"]), int(self._region["top"])
        self._areas.extend(Rect(x - left, y - top, w, h) for x, y, w, h in rects)

    def grab_changed(self, *, full: bool = False) -> tuple[Pixels, list[Rect] | None]:
        """The screen now, and the parts of it that can differ from the previous call's.

        Only what X DAMAGE reported since then (``quiet()`` collects it) and,
        when it moved or changed its image, where the pointer was and is are
        grabbed, into one buffer that is updated in place: the frame is valid
        until the next call.  The parts are None when the whole screen was
        grabbed: the first call, ``full``, no areas known (no DAMAGE or no
        XFixes), or a change of more than three quarters of the screen or in
        more than ``MAX_PARTS`` places.  ``moves`` holds the windows moved
        before this grab.
        """
        moves = self._take_moves()
        areas, self._areas = self._areas, self._no_areas()
        frame, parts = self._grab_areas(areas, full)
        self.moves = moves
        return frame, parts

    def _grab_areas(self, areas: list[Rect] | None, full: bool) -> tuple[Pixels, list[Rect] | None]:
        frame = self._frame
        blends_itself = self._cursor_source is not None or not self._sct.with_cursor
        if full or areas is None or frame is None or not blends_itself:
            return self._whole()
        height, width = frame.shape[:2]
        box = compact_box(areas, height, width)
        if 4 * box.w * box.h > 3 * height * width:
            return self._whole()
        if box.w and box.h:
            # First, before any other work: the sooner after DAMAGE the grab, the more
            # of a drawing made in bursts shows as its own frame (a scroll, then its text).
            self._grab_parts(frame, [box])
        news = self._pointer_news()
        pointer = news or self._touches_pointer([box, *areas], height, width)
        parts, tiles = cover([*areas, *([self._cursor_rect] if pointer else [])], height, width)
        if len(parts) > MAX_PARTS or 4 * tiles * TILE * TILE > 3 * height * width:
            return self._whole()
        self._grab_parts(frame, [rest for part in parts for rest in minus(part, box)])
        if not pointer:
            return frame, parts  # the pointer stayed and its pixels were not grabbed over
        cursor = self._fetch_cursor() if news else self._cursor
        self._cursor_rect = Rect(0, 0, 0, 0) if cursor is None else cursor[1]
        if cursor is not None:
            # Under the pointer's new place the buffer already holds the screen (whatever
            # was drawn there is in ``parts``); only the encoder must look there too.
            moved, _ = cover([self._cursor_rect], height, width)
            parts += [m for m in moved if not any(inside(m, p) for p in parts)]
            blend_cursor(frame, cursor[0], self._cursor_rect.x, self._cursor_rect.y)
        return frame, parts

    def _pointer_news(self) -> bool:
        """Whether the pointer may have moved or changed since the last grab: fetch it again.

        Always True without pointer events (``DamageWatch.watches_pointer``).
        Where it is is asked only when ``_position_due`` (a round trip; during a
        drag or a scroll that was once per frame): events say when a device
        moves it, the position only catches a program warping it.
        """
        news, self._pointer_dirty = self._pointer_dirty, False
        if self._cursor_source is None or not self._has_cursor:
            return False
        if self._damage is None:
            return True
        return self._damage.take_pointer_news(ask_position=self._position_due()) or news

    def _position_due(self) -> bool:
        """Whether to ask where the pointer is now (and note that it was asked).

        A warped pointer sends no event, so its position is asked now and then:
        at most every ``POSITION_EVERY`` seconds, by a grab or by ``quiet()``
        alike.  A still screen's ticks come as often (``WARP_POLL``), so a warp
        shows as late as the pointer module says; typing, whose grabs come ten
        times a second, no longer pays a round trip for each grab and each look.
        """
        now = time.monotonic()
        if now - self._position_asked < POSITION_EVERY:
            return False
        self._position_asked = now
        return True

    def _touches_pointer(self, rects: list[Rect], height: int, width: int) -> bool:
        """Whether grabbing the tiles of ``rects`` overwrites the pointer's blended pixels."""
        under = align(self._cursor_rect, height, width)
        return under.w > 0 and any(_meets(align(r, height, width), under) for r in rects)

    def _take_moves(self) -> list[Move]:
        """The windows moved since the last grab, in this monitor's coordinates."""
        if self._damage is None:
            return []
        left, top = int(self._region["left"]), int(self._region["top"])
        return [
            (Rect(o.x - left, o.y - top, o.w, o.h), Rect(n.x - left, n.y - top, n.w, n.h))
            for o, n in self._damage.take_moves()
        ]

    def _whole(self) -> tuple[Pixels, None]:
        self._frame = self.grab()
        return self._frame, None

    def _grab_parts(self, frame: Pixels, parts: list[Rect]) -> None:
        left, top = int(self._region["left"]), int(self._region["top"])
        for part in parts:
            where = {"left": left + part.x, "top": top + part.y, "width": part.w, "height": part.h}
            frame[part.y : part.y + part.h, part.x : part.x + part.w] = self._shot(where)

    @property
    def damage_fd(self) -> int | None:
        """A socket that turns readable when something was drawn; None without DAMAGE."""
        return None if self._damage is None else self._damage.fileno()

    @property
    def pointer_events(self) -> bool:
        """``damage_fd`` also wakes on pointer motion and image changes: no need to poll."""
        return self._damage is not None and self._damage.watches_pointer

    def drawn_since_look(self) -> bool:
        """Whether DAMAGE has news since the last ``quiet()``, read or not; takes none of it.

        Pointer events on the same socket count too: a caller learns "maybe".
        """
        if self._damage is None:
            return False
        if self._damage.pending:
            return True
        fd = self._damage.fileno()
        return fd >= 0 and bool(select.select([fd], [], [], 0)[0])

    @property
    def damage_pending(self) -> bool:
        """A drawing is known that ``damage_fd`` will not signal (ask ``quiet()`` again)."""
        return self._damage is not None and self._damage.pending

    @property
    def has_cursor(self) -> bool:
        """Whether frames include the mouse pointer (False without XFixes)."""
        if self._cursor_source is None:
            return bool(self._sct.with_cursor)
        return self._has_cursor

    def grab(self) -> Pixels:
        """One frame; a new array each call (callers may keep it)."""
        pixels = self._shot(self._region)
        self._areas = self._no_areas()
        self.moves = self._take_moves()
        cursor = self._fetch_cursor()
        self._cursor_rect = Rect(0, 0, 0, 0) if cursor is None else cursor[1]
        if cursor is not None:
            blend_cursor(pixels, cursor[0], cursor[1].x, cursor[1].y)
        return pixels

    def _shot(self, region: dict[str, Any]) -> Pixels:
        try:
            shot = self._sct.grab(region)
        except mss.ScreenShotError as exc:
            raise CaptureError(f"the screen could not be captured: {exc}") from exc
        return np.frombuffer(shot.raw, np.uint8).reshape(shot.height, shot.width, 4)

    def _fetch_cursor(self) -> tuple[Pixels, Rect] | None:
        """The pointer image and where it goes on this monitor; None: not blended here."""
        self._cursor = None
        if self._cursor_source is None or not self._has_cursor:
            return None
        try:
            cursor = self._cursor_source.cursor()
        except mss.ScreenShotError:
            self._has_cursor = False  # no XFixes: frames without the pointer
            return None
        if cursor is None:  # mss's Windows (GDI) backend has no pointer image to give
            self._has_cursor = False
            return None
        self.cursor_fetches += 1
        self._last_cursor = _cursor_key(cursor)
        left = int(cursor.left) - int(self._region["left"])
        top = int(cursor.top) - int(self._region["top"])
        image = np.frombuffer(cursor.raw, np.uint8).reshape(cursor.height, cursor.width, 4)
        self._cursor = image, Rect(left, top, int(cursor.width), int(cursor.height))
        return self._cursor

    def close(self) -> None:
        if self._cursor_source is not None:
            self._cursor_source.close()
        damage = getattr(self, "_damage", None)
        if damage is not None:
            damage.close()
        if hasattr(self, "_sct"):
            self._sct.close()

    def __enter__(self) -> Capturer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def blend_cursor(pixels: Pixels, cursor: Pixels, left: int, top: int) -> None:
    """Draw a straight-alpha BGRA cursor onto ``pixels`` at (left, top), clipped.

    Same arithmetic as mss's ``with_cursor`` blend (opaque pixels copied,
    others ``int(c * a + s * (1 - a))`` with ``a = alpha / 255``), so both
    paths give identical frames.
    """
    height, width = pixels.shape[:2]
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + cursor.shape[0], height), min(left + cursor.shape[1], width)
    if y0 >= y1 or x0 >= x1:
        return
    src = cursor[y0 - top : y1 - top, x0 - left : x1 - left]
    dst = pixels[y0:y1, x0:x1, :3]
    alpha = src[..., 3:4].astype(np.float64) / 255
    mixed = (src[..., :3] * alpha + dst * (1 - alpha)).astype(np.uint8)
    opaque = src[..., 3] == 255
    mixed[opaque] = src[..., :3][opaque]
    visible = src[..., 3] > 0
    dst[visible] = mixed[visible]


def _meets(a: Rect, b: Rect) -> bool:
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h


def _cursor_key(cursor: Any) -> tuple[int, int, bytes]:
    return int(cursor.left), int(cursor.top), bytes(cursor.raw)


class _CursorSource:
    """XFixes cursor images through mss's backend, on a connection of its own."""

    def __init__(self, sct: Any) -> None:
        self._sct = sct

    def cursor(self) -> Any:
        return self._sct._impl.cursor()

    def close(self) -> None:
        self._sct.close()


def _cursor_source(display: str | None) -> _CursorSource | None:
    sct = _open(display, with_cursor=False)
    if not callable(getattr(getattr(sct, "_impl", None), "cursor", None)):
        sct.close()
        return None
    return _CursorSource(sct)


def _open(display: str | None, *, with_cursor: bool) -> Any:
    kwargs: dict[str, Any] = {"with_cursor": with_cursor}
    if display is not None:
        kwargs["display"] = display
    try:
        return mss.MSS(**kwargs)
    except mss.ScreenShotError as exc:
        raise CaptureError(f"the screen could not be opened: {exc}") from exc


def _info(index: int, mon: dict[str, Any]) -> MonitorInfo:
    return MonitorInfo(
        index=index,
        left=int(mon["left"]),
        top=int(mon["top"]),
        width=int(mon["width"]),
        height=int(mon["height"]),
        name=str(mon.get("output") or mon.get("name") or ("all" if index == 0 else str(index))),
        primary=bool(mon.get("is_primary", False)),
    )
