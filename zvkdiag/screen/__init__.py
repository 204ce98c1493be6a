"""Screen view: capture, tile encoding, flow control and reassembly (issue 5).

Customer side: ``ScreenStreamer`` + ``serve_screen``.  Engineer side:
``ScreenReceiver`` (headless ``frames()`` or feeding a viewer widget).  The
wire format lives in ``frames``; docs/screen.md describes it field by field.
"""

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
