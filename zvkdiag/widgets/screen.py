"""The notebook screen viewer: an anywidget with a canvas, fed frames by the session.

The widget never does network I/O.  A ``ScreenReceiver`` (running on the
session's own thread and event loop) applies each frame to its canvas and
calls ``view.show(...)``, which translates it (``zvkdiag.screen.browser``)
and sends ONE custom comm message with the tiles as binary buffers.  The
browser draws (JPEG through ``createImageBitmap``, exact pixels inflated
with ``DecompressionStream`` and put with ``putImageData``) and acknowledges
drawn frames in batches; the widget passes those acks to the receiver,
which sends them upstream, so a busy browser slows the customer's capture.

Threads: ``show``/``push_frame`` may be called from any thread (a lock keeps
comm sends whole; ipykernel's IOPub socket is fed through its own thread).
Messages from the browser arrive on whatever thread ipykernel dispatches
comm messages on (main shell or a subshell); the receiver's methods we call
from there are thread-safe.  If acks never arrive (a blocking cell, a closed
tab) the customer side times out and sends a keyframe: nothing deadlocks.

Wiring (the lead's ``Session.screen()``)::

    receiver = ScreenReceiver()
    view = ScreenView(on_snapshot=case.save_screenshot)
    view.connect(receiver)
    session.spawn(receiver.run(read, write))  # on the session loop
    return view

Remote control: ``ScreenView(control=link)`` shows "request control" and
"give back" buttons.  The browser's ``{"type": "control", "want": bool}`` and
``{"type": "input", "events": [...]}`` (wire form of
``zvkdiag.control.events``) go to the link as they are; the link runs them on
the session loop and reports each state back through ``show_control``, which
sends ``{"type": "control_state", "state", "text"}`` to the browser.
"""

from __future__ import annotations

import logging
import pathlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import anywidget
import traitlets
from PIL import Image

from zvkdiag.screen.browser import BrowserHop, HopForm
from zvkdiag.screen.reassemble import Canvas
from zvkdiag.screen.receiver import ReceivedFrame
from zvkdiag.widgets._quiet import quiet_busy_status
from zvkdiag.widgets._routing import answer_on_frontend_subshell

if TYPE_CHECKING:
    from zvkdiag.engineer.link import LinkState
    from zvkdiag.engineer.widget_control import ControlState

__all__ = ["ControlPort", "ScreenView", "ViewerLink"]

log = logging.getLogger(__name__)

SnapshotCallback = Callable[[Image.Image], None]

LINK_TEXTS: dict[str, str] = {
    "connected": "",
    "interrupted": "Verbindung unterbrochen – wird wiederhergestellt · connection interrupted,"
    " reconnecting (the picture is frozen until it is back)",
    "restored": "wieder verbunden · reconnected",
    "ended": "Sitzung beendet · session ended",
}
"""The badge over the picture for each state of the connection (``Session.connection``)."""

SECURE_DESKTOP_TEXT = (
    "Der Kunde bestätigt gerade eine Windows-Sicherheitsabfrage · the customer is answering"
    " a Windows security prompt (no picture of it can be taken; it comes back afterwards)"
)
"""Over the picture while the customer's screen is Windows' secure desktop (UAC, lock screen)."""


class ViewerLink(Protocol):
    """What the widget calls back into (``ScreenReceiver``); every method thread-safe."""

    canvas: Canvas
    sink: Any

    def acknowledge(self, seq: int) -> None: ...

    def set_paused(self, paused: bool) -> None: ...

    def request_refresh(self) -> None: ...

    def snapshot(self) -> Image.Image: ...


class ControlPort(Protocol):
    """What the widget hands remote-control messages to (``ControlLink``); thread-safe."""

    state: ControlState
    on_state: Callable[[ControlState], None] | None
    on_note: Callable[[str], None] | None

    def want(self, want: bool) -> None: ...

    def send(self, events: object) -> None: ...

    def point(self, at: tuple[int, int] | None) -> None: ...


class ScreenView(anywidget.AnyWidget):
    """Live view of the customer's screen with fps, bandwidth, round trip, pause and snapshot.

    The figures: frames per second and bandwidth of the frames that arrived in
    the last second ("no changes" while the screen is still), and the round
    trip to the customer's PC and back ("RTT"), measured on the engineer's
    clock alone (an echo on the session every few seconds).

    Parameters
    ----------
    on_snapshot
        Called with a lossless RGB image when the engineer presses
        "snapshot"; the session connects it to the case store.
    title
        Shown above the picture (e.g. the customer's monitor name).
    control
        Where requests for remote control and input go; without it the
        widget only watches.
    """

    _esm = pathlib.Path(__file__).parent / "static" / "screen.js"
    hop_form: HopForm = "deflate"
    """How exact pixels travel to the browser (``zvkdiag.screen.browser``); the
    former raw ``"rgba"`` form stays selectable for measurements."""
    title = traitlets.Unicode("").tag(sync=True)
    controllable = traitlets.Bool(False).tag(sync=True)
    link_state = traitlets.Unicode("connected").tag(sync=True)
    """``connected``, ``restored`` (connected again after an interruption),
    ``interrupted`` or ``ended``; the browser overlays ``link_text`` unless connected."""
    link_text = traitlets.Unicode("").tag(sync=True)
    screen_note = traitlets.Unicode("").tag(sync=True)
    """Why the picture shows nothing new although connected (``SECURE_DESKTOP_TEXT``);
    empty while the picture is live."""

    def __init__(
        self,
        *,
        on_snapshot: SnapshotCallback | None = None,
        title: str = "",
        control: ControlPort | None = None,
    ) -> None:
        super().__init__(title=title, controllable=control is not None)
        self._on_snapshot = on_snapshot
        self._control = control
        if control is not None:
            control.on_state = self.show_control
            control.on_note = lambda line: self._to_browser({"type": "status", "text": line}, [])
        self._link: ViewerLink | None = None
        self._send_lock = threading.Lock()
        self._hop = BrowserHop(form=self.hop_form)
        self.frames_shown = 0
        self.acked_seq = 0
        self.paused = False
        self.rtt: float | None = None
        self.on_msg(self._on_custom_msg)
        answer_on_frontend_subshell(self)  # acks keep flowing while a cell blocks
        quiet_busy_status(self)  # keys and acks do not redraw JupyterLab's kernel status

    def connect(self, link: ViewerLink) -> None:
        """Show ``link``'s stream here; the link gets this view as its sink."""
        self._link = link
        link.sink = self
        self.acked_seq = 0
        with self._send_lock:
            self._hop.reset()
            self.send({"type": "reset"}, [])

    # -- fed by the receiver -------------------------------------------------------------

    def show(self, got: ReceivedFrame, canvas: Canvas) -> None:
        """``FrameSink`` hook: forward the frame the canvas has just applied."""
        note = SECURE_DESKTOP_TEXT if got.frame.secure_desktop else ""
        if note != self.screen_note:
            self.screen_note = note
        self.push_frame(got, canvas)

    def push_frame(self, got: ReceivedFrame, canvas: Canvas) -> None:
        """Send one frame to the browser as one message (thread-safe)."""
        with self._send_lock:  # messages go out in the order the shadow saw them
            content, buffers = self._hop.frame_message(got.frame, canvas, wire_bytes=got.wire_bytes)
            self.send(content, buffers)
        self.frames_shown += 1

    def show_rtt(self, seconds: float) -> None:
        """The round trip engineer → customer → engineer, timed on this computer's clock."""
        self.rtt = seconds
        self._to_browser({"type": "rtt", "ms": round(seconds * 1000, 1)}, [])

    def show_control(self, state: ControlState) -> None:
        """Show the remote-control state (thread-safe; the link calls it on its loop)."""
        self._to_browser({"type": "control_state", "state": state.state, "text": state.text}, [])

    def show_link(self, state: LinkState) -> None:
        """Show the connection's state over the picture (thread-safe; ``Session.subscribe``)."""
        shown: str = state.phase
        if shown == "connected" and self.link_state != "connected":
            shown = "restored"
        if shown == "ended" and state.reason:
            text = f"{LINK_TEXTS['ended']}: {state.reason}"
        else:
            text = LINK_TEXTS[shown]
        with self.hold_sync():
            self.link_state = shown
            self.link_text = text

    def snapshot(self) -> Image.Image:
        """The current picture (lossless), without storing it anywhere."""
        if self._link is None:
            raise ValueError("this screen view is not connected to a screen stream")
        return self._link.snapshot()

    # -- from the browser -----------------------------------------------------------------

    def _on_custom_msg(
        self, _widget: object, content: dict[str, Any], _buffers: list[bytes]
    ) -> None:
        kind = content.get("type")
        link = self._link
        if kind == "ack" and link is not None:
            self.acked_seq = max(self.acked_seq, int(content.get("seq", 0)))
            link.acknowledge(self.acked_seq)
        elif kind == "pause" and link is not None:
            self.paused = bool(content.get("paused"))
            link.set_paused(self.paused)
        elif kind == "snapshot":
            self._take_snapshot()
        elif kind == "ready" and link is not None:
            self._repaint(link, inflate=content.get("inflate") is not False)
        if kind == "point" and self._control is not None:
            x, y = content.get("x"), content.get("y")
            ok = isinstance(x, int) and isinstance(y, int)
            self._control.point((x, y) if ok else None)  # type: ignore[arg-type]
        if kind in ("control", "input", "ready") and self._control is not None:
            self._on_control_msg(kind, content)

    def _on_control_msg(self, kind: str, content: dict[str, Any]) -> None:
        control = self._control
        assert control is not None
        if kind == "control":
            control.want(content.get("want") is True)
        elif kind == "input":
            control.send(content.get("events"))
        else:
            self.show_control(control.state)

    def _take_snapshot(self) -> None:
        try:
            image = self.snapshot()
            if self._on_snapshot is not None:
                self._on_snapshot(image)
            text = f"snapshot saved ({image.width}x{image.height}, lossless)"
            if self._link is not None and not self._link.canvas.settled:
                text += "; parts were still being refined (JPEG)"
        except Exception as exc:  # shown to the engineer; the stream goes on
            log.warning("screen snapshot failed: %s", exc)
            text = f"snapshot failed: {exc}"
        self._to_browser({"type": "status", "text": text}, [])

    def _repaint(self, link: ViewerLink, *, inflate: bool) -> None:
        with self._send_lock:
            if not inflate:  # a browser without DecompressionStream("deflate-raw")
                self._hop.form = "rgba"
            message = self._hop.repaint_message(link.canvas)
            if message is not None:
                self.send(*message)

    def _to_browser(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        with self._send_lock:
            self.send(content, buffers)

    def __repr__(self) -> str:
        state = "connected" if self._link is not None else "not connected"
        pause = ", paused" if self.paused else ""
        control = f", control {self._control.state.state}" if self._control is not None else ""
        link = "" if self.link_state in ("connected", "restored") else f", {self.link_state}"
        return f"<ScreenView {state}{pause}{control}{link}, {self.frames_shown} frames shown>"
