"""A screen whose X DAMAGE misses drawings, as some displays' does (a video overlay, a GL client).

On Xvfb every drawing raises damage; ``BlindCapturer`` forgets what DAMAGE
reports inside one rectangle, so the drawing is on the screen and in every
full grab, but no look (``quiet()``) says so.  Tests of the streamer's safety
net (``zvkdiag.screen.pacing.FullPoll``) use it.
"""

from __future__ import annotations

from zvkdiag.screen.capture import Capturer
from zvkdiag.screen.tiles import Rect, inside

__all__ = ["BlindCapturer"]


class BlindCapturer(Capturer):
    """A ``Capturer`` whose DAMAGE does not report what is drawn inside ``blind``."""

    def __init__(
        self,
        monitor: int = 0,
        *,
        blind: Rect,
        display: str | None = None,
        with_cursor: bool = True,
    ) -> None:
        super().__init__(monitor, display=display, with_cursor=with_cursor)
        self.blind = blind
        self.unreported = 0  # looks that forgot a drawing

    def quiet(self) -> bool:
        if super().quiet():
            return True
        areas = self._areas
        if areas and all(inside(area, self.blind) for area in areas):
            self._areas = []
            self.unreported += 1
            return True
        return False
