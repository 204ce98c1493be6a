"""The notebook screen viewer: an anywidget with a canvas, fed frames by the session.

The widget never does network I/O.  A ``ScreenReceiver`` (running on the
session's own thread and event loop) applies each frame to its canvas and
calls ``view.show(...)``, which translates it (``zvkdiag.screen.browser``)
and sends ONE custom comm message with the tiles as binary buffers, in a
trimmed envelope (``_lean``).  The browser draws (JPEG through
``createImageBitmap``, exact pixels inflated with ``DecompressionStream`` and
put with ``putImageData``) and acknowledges drawn frames cumulatively, every
32 frames or once a second (``ack_after``).  The view acknowledges each frame
upstream as it sends it, while the browser's unacknowledged frames fit the
window (``_browser_window``), so a busy browser still slows the customer's
capture, but the browser need not answer every frame.

Frames wait for the first browser view: until one says ``ready`` nothing is
sent (a message before the page renders the widget is lost), and the answer
to ``ready`` is the whole picture, sent once.

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
from zvkdiag.widgets._browser_window import WINDOW_BYTES, WINDOW_FRAMES, BrowserWindow
from zvkdiag.widgets._lean import lean_send
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


ACK_EVERY_FRAME: dict[str, int] = {"frames": 1, "bytes": 0, "ms": 0}
"""``ack_after`` of the former way (``hop_lean = False``)."""


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
    hop_lean: bool = True
    """Batched browser acks with the kernel's window, trimmed envelopes, one deflate
    stream across frames with palettes, frames held until the first ``ready``; False:
    the former way (an ack for every frame, passed upstream; ipywidgets' envelope; RGB
    in a deflate stream per frame), for measurements."""
    ack_after = traitlets.Dict(
        {"frames": WINDOW_FRAMES // 2, "bytes": WINDOW_BYTES // 2, "ms": 1000}
    ).tag(sync=True)
    """When the browser acknowledges: this many frames or bytes drawn since its last
    ack, or this many ms after the first of them (half the kernel's window)."""
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
        lean: dict[str, Any] = {} if self.hop_lean else {"ack_after": ACK_EVERY_FRAME}
        super().__init__(title=title, controllable=control is not None, **lean)
        self._on_snapshot = on_snapshot
        self._control = control
        if control is not None:
            control.on_state = self.show_control
            control.on_note = lambda line: self._to_browser({"type": "status", "text": line}, [])
        self._link: ViewerLink | None = None
        self._send_lock = threading.Lock()
        self._hop = BrowserHop(form=self.hop_form, lean=self.hop_lean)
        self._window = BrowserWindow() if self.hop_lean else BrowserWindow(frames=0)
        self._ready = not self.hop_lean  # a browser view has asked for the picture
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
            self._window.reset()
            self._to_page({"type": "reset"}, [])

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
            self.frames_shown += 1
            if not self._ready:
                return  # the answer to the first ``ready`` brings the whole picture
            content, buffers = self._hop.frame_message(got.frame, canvas, wire_bytes=got.wire_bytes)
            self._to_page(content, buffers)
            self._upstream(self._window.sent(got.frame.seq, sum(map(len, buffers))))

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
            with self._send_lock:
                self._upstream(self._window.drawn(self.acked_seq))
        elif kind == "pause" and link is not None:
            self.paused = bool(content.get("paused"))
            link.set_paused(self.paused)
        elif kind == "snapshot":
            self._take_snapshot()
        elif kind == "ready":  # also before the stream is connected: frames may go from then on
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

    def _repaint(self, link: ViewerLink | None, *, inflate: bool) -> None:
        with self._send_lock:
            self._ready = True
            if not inflate:  # a browser without DecompressionStream("deflate-raw")
                self._hop.form = "rgba"
            if link is None:
                return
            message = self._hop.repaint_message(link.canvas)
            if message is not None:
                self._to_page(*message)
                self._upstream(self._window.sent(link.canvas.last_seq, sum(map(len, message[1]))))

    def _upstream(self, seq: int | None) -> None:
        """Acknowledge to the customer side what the window allows (under the send lock)."""
        if seq is not None and self._link is not None:
            self._link.acknowledge(seq)

    def _to_browser(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        with self._send_lock:
            self._to_page(content, buffers)

    def _to_page(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        if not (self.hop_lean and lean_send(self, content, buffers)):
            self.send(content, buffers)

    def __repr__(self) -> str:
        state = "connected" if self._link is not None else "not connected"
        pause = ", paused" if self.paused else ""
        control = f", control {self._control.state.state}" if self._control is not None else ""
        link = "" if self.link_state in ("connected", "restored") else f", {self.link_state}"
        return f"<ScreenView {state}{pause}{control}{link}, {self.frames_shown} frames shown>"
