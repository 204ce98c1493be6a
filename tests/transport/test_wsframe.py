"""WebSocket framing without I/O: round trips however the bytes are cut, RFC 6455 rules, wsproto."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wsproto.frame_protocol import FrameProtocol
from wsproto.frame_protocol import Opcode as WsOpcode

from zvkdiag._errors import ProtocolError
from zvkdiag.transport.wsframe import (
    Close,
    Control,
    Data,
    Decoder,
    Event,
    FrameError,
    Opcode,
    encode,
    encode_close,
    header,
    mask,
    parse_close,
)

keys = st.binary(min_size=4, max_size=4)
payloads = st.binary(max_size=70_000)  # past the 16-bit length, into the 64-bit one
Message = tuple[bool, list[bytes], list[tuple[Opcode, bytes] | None]]
controls = st.tuples(st.sampled_from([Opcode.PING, Opcode.PONG]), st.binary(max_size=125))


def _slow_mask(data: bytes, key: bytes, offset: int = 0) -> bytes:
    return bytes(b ^ key[(i + offset) % 4] for i, b in enumerate(data))


@st.composite
def messages(draw: st.DrawFn) -> Message:
    """A message as its fragments, and the control frame (if any) sent after each fragment."""
    text = draw(st.booleans())
    fragments = draw(st.lists(st.binary(max_size=3000), min_size=1, max_size=5))
    between = draw(st.lists(st.none() | controls, min_size=len(fragments), max_size=len(fragments)))
    return text, fragments, between


def _wire(msgs: list[Message], masked: bool) -> bytes:
    out = bytearray()
    for text, fragments, between in msgs:
        for j, (fragment, control) in enumerate(zip(fragments, between, strict=True)):
            first = Opcode.TEXT if text else Opcode.BINARY
            op = first if j == 0 else Opcode.CONTINUATION
            out += encode(op, fragment, masked=masked, fin=j == len(fragments) - 1)
            if control is not None:
                out += encode(control[0], control[1], masked=masked)
    return bytes(out)


def _expected(
    msgs: list[Message],
) -> list[tuple[str, object]]:
    """What a reader should see: each message whole (once ended), controls where they came."""
    seen: list[tuple[str, object]] = []
    for text, fragments, between in msgs:
        controls_inside = [c for c in between[:-1] if c is not None]
        seen += [("control", c) for c in controls_inside]
        seen.append(("message", (text, b"".join(fragments))))
        if between[-1] is not None:
            seen.append(("control", between[-1]))
    return seen


def _collect(events: list[Event]) -> list[tuple[str, object]]:
    seen: list[tuple[str, object]] = []
    body = bytearray()
    for e in events:
        if isinstance(e, Data):
            body += e.payload
            if e.last:
                seen.append(("message", (e.text, bytes(body))))
                body.clear()
        else:
            seen.append(("control", (e.opcode, e.payload)))
    assert not body, "bytes of a message that never ended"
    return seen


@given(st.lists(messages(), max_size=4), st.booleans(), st.lists(st.integers(1, 5000), max_size=20))
def test_round_trip_however_the_carrier_cuts_the_bytes(
    msgs: list[Message],
    masked: bool,
    cuts: list[int],
) -> None:
    wire = _wire(msgs, masked)
    decoder, events, at = Decoder(masked=masked), [], 0
    for size in [*cuts, len(wire)]:
        events += decoder.feed(wire[at : at + size])
        at += size
    assert _collect(events) == _expected(msgs)
    assert not decoder.in_message


@given(payloads, st.integers(1, 7))
def test_one_byte_at_a_time_gives_the_same_bytes(payload: bytes, step: int) -> None:
    wire = encode(Opcode.BINARY, payload, masked=True)
    decoder, got = Decoder(masked=True), bytearray()
    for i in range(0, len(wire), step):
        for e in decoder.feed(wire[i : i + step]):
            assert isinstance(e, Data)
            got += e.payload
    assert bytes(got) == payload


@given(st.binary(max_size=300), keys, st.integers(0, 11))
def test_mask_is_the_rfc_xor_and_its_own_inverse(data: bytes, key: bytes, offset: int) -> None:
    assert bytes(mask(data, key, offset)) == _slow_mask(data, key, offset)
    assert bytes(mask(mask(data, key, offset), key, offset)) == data


@given(st.binary(max_size=300), keys, st.integers(0, 300))
def test_masking_in_pieces_equals_masking_whole(data: bytes, key: bytes, cut: int) -> None:
    cut = min(cut, len(data))
    assert mask(data[:cut], key) + mask(data[cut:], key, cut) == mask(data, key)


@given(payloads, keys)
def test_a_masked_frame_is_header_key_and_masked_payload(payload: bytes, key: bytes) -> None:
    frame = encode(Opcode.BINARY, payload, masked=True, key=key)
    head = header(Opcode.BINARY, len(payload), key=key)
    assert bytes(frame) == head + _slow_mask(payload, key)
    assert head.endswith(key) and head[1] & 0x80


def test_each_client_frame_gets_its_own_random_key() -> None:
    frames = {bytes(encode(Opcode.BINARY, b"same", masked=True)) for _ in range(20)}
    assert len(frames) > 1


@given(st.lists(payloads, max_size=3), st.booleans())
def test_wsproto_reads_our_frames(chunks: list[bytes], masked: bool) -> None:
    """A server's wsproto reads what our client writes, and a client's what our relay writes."""
    reader = FrameProtocol(client=not masked, extensions=[])
    reader.receive_bytes(b"".join(bytes(encode(Opcode.BINARY, c, masked=masked)) for c in chunks))
    got = [(f.opcode, bytes(f.payload)) for f in reader.received_frames()]
    assert got == [(WsOpcode.BINARY, c) for c in chunks]


@given(st.lists(payloads, max_size=3), st.booleans())
def test_we_read_wsprotos_frames(chunks: list[bytes], masked: bool) -> None:
    writer = FrameProtocol(client=masked, extensions=[])
    wire = b"".join(writer.send_data(c, fin=True) for c in chunks)
    events = Decoder(masked=masked).feed(wire)
    assert _collect(events) == [("message", (False, c)) for c in chunks]


def test_close_frames_carry_code_and_reason() -> None:
    events = Decoder(masked=False).feed(bytes(encode_close(1001, "weg", masked=False)))
    assert events == [Control(Opcode.CLOSE, struct.pack(">H", 1001) + b"weg")]
    assert parse_close(events[0].payload) == Close(1001, "weg")  # type: ignore[union-attr]
    assert parse_close(b"") == Close(1005, "")


def test_an_empty_close_at_the_end_of_the_input_is_seen_at_once() -> None:
    assert Decoder(masked=False).feed(b"\x88\x00") == [Control(Opcode.CLOSE, b"")]


def _masked_frame(first: int, payload: bytes = b"", length: bytes | None = None) -> bytes:
    key = b"\x01\x02\x03\x04"
    size = length if length is not None else bytes((len(payload),))
    size = bytes((size[0] | 0x80,)) + size[1:]
    return bytes((first,)) + size + key + _slow_mask(payload, key)


@pytest.mark.parametrize(
    ("wire", "why"),
    [
        (_masked_frame(0xC2, b"x"), "reserved bits"),
        (_masked_frame(0x83, b"x"), "unknown opcode"),
        (b"\x82\x01x", "unmasked"),
        (_masked_frame(0x09), "fragmented control"),
        (_masked_frame(0x89, length=b"\x7e\x00\x7e", payload=b"p" * 126), "longer than 125"),
        (_masked_frame(0x82, length=b"\x7e\x00\x10", payload=b"p" * 16), "7 bits would do"),
        (_masked_frame(0x82, length=b"\x7f" + struct.pack(">Q", 100)), "too small"),
        (_masked_frame(0x82, length=b"\x7f" + struct.pack(">Q", 1 << 63)), "top bit"),
        (_masked_frame(0x80, b"x"), "continuation frame outside"),
        (_masked_frame(0x02, b"a") + _masked_frame(0x82, b"b"), "before the last one ended"),
        (_masked_frame(0x88, b"\x03"), "one-byte body"),
        (_masked_frame(0x88, struct.pack(">H", 1005)), "may not be sent"),
        (_masked_frame(0x88, struct.pack(">H", 1000) + b"\xff"), "not UTF-8"),
    ],
)
def test_broken_frames_are_refused_with_a_reason(wire: bytes, why: str) -> None:
    with pytest.raises(FrameError, match=why) as caught:
        Decoder(masked=True).feed(wire)
    assert caught.value.code in (1002, 1007)


def test_a_client_refuses_a_masked_frame() -> None:
    with pytest.raises(FrameError, match="masked frame to a client"):
        Decoder(masked=False).feed(bytes(encode(Opcode.BINARY, b"x", masked=True)))


def test_control_frames_are_whole_and_short_when_we_build_them() -> None:
    with pytest.raises(ValueError):
        encode(Opcode.PING, b"p" * 126, masked=True)
    with pytest.raises(ValueError):
        encode(Opcode.CLOSE, b"", masked=False, fin=False)


@given(st.binary(max_size=200), st.booleans())
def test_junk_raises_only_our_protocol_error(junk: bytes, masked: bool) -> None:
    with contextlib.suppress(ProtocolError):
        Decoder(masked=masked).feed(junk)
