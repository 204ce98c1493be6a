"""Screen view: capture, tile encoding, flow control and reassembly (issue 5).

Customer side: ``ScreenStreamer`` + ``serve_screen``.  Engineer side:
``ScreenReceiver`` (headless ``frames()`` or feeding a viewer widget).  The
wire format lives in ``frames``; docs/screen.md describes it field by field.

The names load on first use (PEP 562): the customer's program imports only
what its ops need, and never the engineer-side ``reassemble`` (Pillow) or
``receiver``.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zvkdiag.screen.capture import CaptureError, Capturer, MonitorInfo, list_monitors
    from zvkdiag.screen.codec import Encoding
    from zvkdiag.screen.encoder import EncoderPolicy, FrameEncoder
    from zvkdiag.screen.flow import FlowControl, FlowState
    from zvkdiag.screen.frames import (
        MAX_CONTROL_BYTES,
        MAX_FRAME_BYTES,
        Control,
        ControlKind,
        Frame,
        Tile,
        decode_control,
        decode_frame,
        encode_control,
        encode_frame,
    )
    from zvkdiag.screen.reassemble import Canvas
    from zvkdiag.screen.receiver import FrameSink, ReceivedFrame, ScreenReceiver
    from zvkdiag.screen.stream import ScreenStreamer, StreamStats, serve_screen

_WHERE = {
    "Canvas": "reassemble",
    "CaptureError": "capture",
    "Capturer": "capture",
    "Control": "frames",
    "ControlKind": "frames",
    "EncoderPolicy": "encoder",
    "Encoding": "codec",
    "FlowControl": "flow",
    "FlowState": "flow",
    "Frame": "frames",
    "FrameEncoder": "encoder",
    "FrameSink": "receiver",
    "MAX_CONTROL_BYTES": "frames",
    "MAX_FRAME_BYTES": "frames",
    "MonitorInfo": "capture",
    "ReceivedFrame": "receiver",
    "ScreenReceiver": "receiver",
    "ScreenStreamer": "stream",
    "StreamStats": "stream",
    "Tile": "frames",
    "decode_control": "frames",
    "decode_frame": "frames",
    "encode_control": "frames",
    "encode_frame": "frames",
    "list_monitors": "capture",
    "serve_screen": "stream",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'zvkdiag.screen' has no attribute {name!r}")
    value = getattr(import_module(f"zvkdiag.screen.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "MAX_CONTROL_BYTES",
    "MAX_FRAME_BYTES",
    "Canvas",
    "CaptureError",
    "Capturer",
    "Control",
    "ControlKind",
    "EncoderPolicy",
    "Encoding",
    "FlowControl",
    "FlowState",
    "Frame",
    "FrameEncoder",
    "FrameSink",
    "MonitorInfo",
    "ReceivedFrame",
    "ScreenReceiver",
    "ScreenStreamer",
    "StreamStats",
    "Tile",
    "decode_control",
    "decode_frame",
    "encode_control",
    "encode_frame",
    "list_monitors",
    "serve_screen",
]
