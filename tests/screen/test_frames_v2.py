"""The compact frame header (v2): round trips over whole streams, bounds, bad input."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zvkdiag._errors import ProtocolError
from zvkdiag.screen.codec import Encoding, encode_copy
from zvkdiag.screen.frames import (
    MAX_CONTROL_BYTES,
    MAX_SIDE,
    TIME_UNIT,
    VERSION,
    VERSION_COMPACT,
    Control,
    ControlKind,
    Frame,
    FrameReader,
    FrameWriter,
    Tile,
    decode_control,
    decode_frame,
    encode_control,
    encode_frame,
)

NOW = 1_796_637_600.0  # 2026-12-07, a plausible time.time()


def cursor(seq: int, at: float) -> Frame:
    """A blinking text cursor: one 2×16 rectangle of ~8 payload bytes."""
    return Frame(seq, 1920, 1080, at, False, (Tile(1000, 500, 2, 16, Encoding.PALETTE, b"c" * 8),))


def keyframe(seq: int, at: float, width: int = 1920, height: int = 1080) -> Frame:
    return Frame(
        seq, width, height, at, True, (Tile(0, 0, width, height, Encoding.JPEG, b"j" * 40),)
    )


def same(a: Frame, b: Frame) -> bool:
    """Equal but for the capture time, which v2 carries in TIME_UNIT steps."""
    return abs(a.captured_at - b.captured_at) <= TIME_UNIT / 2 + 1e-6 and (
        a.seq,
        a.width,
        a.height,
        a.keyframe,
        a.secure_desktop,
        a.tiles,
    ) == (b.seq, b.width, b.height, b.keyframe, b.secure_desktop, b.tiles)


def test_a_blinking_cursor_costs_less_than_rfb_would() -> None:
    writer, reader = FrameWriter(), FrameReader()
    reader.decode(writer.encode(keyframe(1, NOW)))
    blob = writer.encode(cursor(2, NOW + 0.53))
    # RFB: 4 (update) + 12 (rectangle) + 4 (ZRLE length) before the payload
    assert len(blob) - 8 < 20
    assert len(blob) < len(encode_frame(cursor(2, NOW + 0.53))) / 2
    assert same(reader.decode(blob), cursor(2, NOW + 0.53))


def test_size_and_seq_travel_only_when_they_cannot_be_inferred() -> None:
    writer, reader = FrameWriter(), FrameReader()
    frames = [
        keyframe(1, NOW),
        cursor(2, NOW + 0.5),
        cursor(3, NOW + 1.0),
        cursor(7, NOW + 0.9),  # a jump, and a clock that went back
        keyframe(8, NOW + 2.0, 1280, 720),
        Frame(9, 1280, 720, NOW + 2.1, False, (), secure_desktop=True),
    ]
    blobs = [writer.encode(f) for f in frames]
    assert all(blob[0] == VERSION_COMPACT for blob in blobs)
    assert len(blobs[3]) == len(blobs[2]) + 1  # the seq, one varint byte
    for frame, blob in zip(frames, blobs, strict=True):
        assert same(reader.decode(blob), frame)
    assert reader.version == VERSION_COMPACT


def test_a_delta_frame_alone_is_a_protocol_error_a_keyframe_alone_is_not() -> None:
    writer = FrameWriter()
    key = writer.encode(keyframe(1, NOW))
    delta = writer.encode(cursor(2, NOW + 0.5))
    assert same(decode_frame(key), keyframe(1, NOW))
    with pytest.raises(ProtocolError, match="needs the frames before it"):
        decode_frame(delta)


def test_the_reader_still_takes_v1_and_follows_it_with_v1_controls() -> None:
    reader = FrameReader()
    assert reader.decode(encode_frame(keyframe(1, NOW))) == keyframe(1, NOW)
    assert reader.version == VERSION
    v1 = FrameWriter(VERSION)
    assert v1.encode(cursor(2, NOW)) == encode_frame(cursor(2, NOW))


@pytest.mark.parametrize(
    ("blob", "match"),
    [
        (bytes((2, 0x1D, 0x81, 0x40)), "width"),  # 8193: past MAX_SIDE
        (bytes((2, 0x1D, 10, 10, 1)) + b"\xff" * 11, "longer than 10 bytes"),
        (bytes((2, 0x1D, 0, 10, 1, 5, 0)), "out of bounds"),  # zero width
        (bytes((2, 0x40)), "flags"),
        (bytes((2, 0x01, 10)), "needs the frames before it"),  # a keyframe without its header
        (bytes((2, 0x1C, 10, 10, 1, 5, 1, 0, 0, 4, 4, 9, 0)), "encoding"),
        (bytes((2, 0x1C, 10, 10, 1, 5, 1, 8, 0, 4, 4, 2, 0)), "outside"),
        (bytes((2, 0x1C, 10, 10, 1, 5, 1, 0, 0, 4, 4, 2, 3, 1)), "shorter"),
        (bytes((2, 0x1C, 10, 10, 1, 5, 0, 9)), "trailing"),
        (bytes((2, 0x1C, 10, 10, 1)), "ends inside"),
        (
            bytes((2, 0x1E, 10, 10, 1, 5, 1, 0, 0, 4, 4, 2, 0)),
            "no tiles",
        ),  # secure desktop: a notice only
    ],
)
def test_bad_v2_frames_are_protocol_errors(blob: bytes, match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        FrameReader().decode(blob)


def test_a_time_delta_before_the_epoch_is_a_protocol_error() -> None:
    reader = FrameReader()
    reader.decode(FrameWriter().encode(keyframe(1, 1.0)))
    with pytest.raises(ProtocolError, match="out of bounds"):
        reader.decode(bytes((2, 0, 0xC1, 0x9A, 0x0C, 0)))  # delta −100001 units


def test_v2_controls_round_trip_and_stay_within_the_v1_bound() -> None:
    for control in (Control(ControlKind.ACK, 2**64 - 1), Control(ControlKind.REFRESH)):
        blob = encode_control(control, version=VERSION_COMPACT)
        assert len(blob) <= MAX_CONTROL_BYTES and decode_control(blob) == control
    assert len(encode_control(Control(ControlKind.ACK, 100), version=VERSION_COMPACT)) == 3
    for bad, match in [
        (bytes((2, 1)), "ends inside"),
        (bytes((2, 1, 5, 0)), "trailing"),
        (bytes((2, 9, 5)), "kind"),
        (bytes((2, 1)) + b"\xff" * 9 + b"\x7f", "exceeds"),
    ]:
        with pytest.raises(ProtocolError, match=match):
            decode_control(bad)


_sides = st.tuples(st.integers(1, MAX_SIDE), st.integers(1, MAX_SIDE))


@st.composite
def tiles(draw: st.DrawFn, width: int, height: int) -> Tile:
    w, h = draw(st.integers(1, width)), draw(st.integers(1, height))
    x, y = draw(st.integers(0, width - w)), draw(st.integers(0, height - h))
    if draw(st.booleans()):
        sx, sy = draw(st.integers(0, width - w)), draw(st.integers(0, height - h))
        return Tile(x, y, w, h, Encoding.COPY, encode_copy(sx, sy))
    encoding = draw(st.sampled_from([e for e in Encoding if e is not Encoding.COPY]))
    return Tile(x, y, w, h, encoding, draw(st.binary(max_size=300)))


@st.composite
def streams(draw: st.DrawFn) -> list[Frame]:
    frames: list[Frame] = []
    seq, at = draw(st.integers(0, 2**64 - 41)), draw(st.floats(0, 4e9))
    width, height = draw(_sides)
    for i in range(draw(st.integers(1, 8))):
        key = i == 0 or draw(st.booleans())
        if key and draw(st.booleans()):
            width, height = draw(_sides)
        seq += draw(st.sampled_from([1, 1, 1, 2, 5]))
        at = max(0.0, at + draw(st.floats(-5, 120)))
        secure = not key and draw(st.integers(0, 9)) == 0
        count = 0 if secure else draw(st.integers(0, 4))
        drawn = tuple(draw(tiles(width, height)) for _ in range(count))
        frames.append(Frame(seq, width, height, at, key, drawn, secure_desktop=secure))
    return frames


@settings(max_examples=300, deadline=None)
@given(streams())
def test_any_stream_round_trips(frames: list[Frame]) -> None:
    writer, reader = FrameWriter(), FrameReader()
    for frame in frames:
        assert same(reader.decode(writer.encode(frame)), frame)


@settings(max_examples=400, deadline=None)
@given(streams(), st.data())
def test_damaged_frames_are_protocol_errors_or_frames(
    frames: list[Frame], data: st.DataObject
) -> None:
    writer, reader = FrameWriter(), FrameReader()
    blobs = [writer.encode(f) for f in frames]
    which = data.draw(st.integers(0, len(blobs) - 1))
    blob = bytearray(blobs[which])
    cut = data.draw(st.integers(1, len(blob)))
    for _ in range(data.draw(st.integers(0, 3))):
        blob[data.draw(st.integers(0, len(blob) - 1))] ^= data.draw(st.integers(1, 255))
    for earlier in blobs[:which]:
        reader.decode(earlier)
    try:
        frame = reader.decode(bytes(blob[:cut]))
    except ProtocolError:
        return
    assert 0 < frame.width <= MAX_SIDE and 0 < frame.height <= MAX_SIDE
    assert all(t.x + t.w <= frame.width and t.y + t.h <= frame.height for t in frame.tiles)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_arbitrary_bytes_are_protocol_errors_or_frames(blob: bytes) -> None:
    mark = bytes((VERSION_COMPACT,))
    for reader in (FrameReader(), _primed()):
        with contextlib.suppress(ProtocolError):
            reader.decode(mark + blob)
    with contextlib.suppress(ProtocolError):
        decode_control(mark + blob[:11])


def _primed() -> FrameReader:
    reader = FrameReader()
    reader.decode(FrameWriter().encode(keyframe(1, NOW, 64, 64)))
    return reader


def test_v1_header_size_is_what_the_docs_say() -> None:
    assert len(encode_frame(Frame(1, 8, 8, NOW, True, ()))) == struct.calcsize(">2sBBQHHdH") == 26
