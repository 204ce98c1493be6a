"""The resumable stream's pure core: frames, ordering, acknowledgements, replay, the bound, keys."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zvkdiag._errors import ProtocolError, ResumeBufferFull
from zvkdiag.resume import transport
from zvkdiag.resume.frames import (
    MAX_DATA,
    Decoder,
    Hello,
    Kind,
    encode,
    encode_ack,
    encode_data,
    encode_hello,
    parse_ack,
    parse_hello,
)
from zvkdiag.resume.secret import ResumeSecret
from zvkdiag.resume.stream import StreamState
from zvkdiag.wire.pake import Pake

chunks = st.lists(st.binary(min_size=1, max_size=3000), max_size=30)


def _deliver(receiver: StreamState, frames: list[bytes], decoder: Decoder) -> bytes:
    out = bytearray()
    for frame in decoder.feed(b"".join(frames)):
        assert frame.kind is Kind.DATA
        out += receiver.on_data(frame.payload)
    return bytes(out)


@given(chunks, st.integers(min_value=1, max_value=7))
def test_bytes_arrive_in_order_however_the_carrier_cuts_them(pieces: list[bytes], cut: int) -> None:
    sender, receiver, decoder = StreamState(), StreamState(), Decoder()
    wire = b"".join(f for p in pieces for f in sender.send(p))
    got = bytearray()
    for i in range(0, len(wire), cut):
        for frame in decoder.feed(wire[i : i + cut]):
            got += receiver.on_data(frame.payload)
    assert bytes(got) == b"".join(pieces)
    assert receiver.received == sender.sent == len(got)
    assert decoder.pending == 0


@given(chunks, st.data())
def test_a_drop_anywhere_loses_and_repeats_nothing(
    pieces: list[bytes], data: st.DataObject
) -> None:
    """Frames after a random point are lost; after the replay the peer has every byte once."""
    sender, receiver = StreamState(), StreamState()
    frames = [f for p in pieces for f in sender.send(p)]
    arrived = data.draw(st.integers(min_value=0, max_value=len(frames)))
    got = _deliver(receiver, frames[:arrived], Decoder())
    if data.draw(st.booleans()):  # an acknowledgement may or may not have made it back
        sender.on_ack(receiver.received)
    got += _deliver(receiver, sender.replay(receiver.received), Decoder())
    assert got == b"".join(pieces)
    sender.on_ack(receiver.received)
    assert sender.unacked == 0


@given(chunks)
def test_acknowledged_bytes_are_forgotten(pieces: list[bytes]) -> None:
    sender = StreamState()
    for p in pieces:
        sender.send(p)
    total = sum(map(len, pieces))
    sender.on_ack(total // 2)
    assert sender.unacked == total - total // 2
    assert sum(len(f) - 13 for f in sender.replay(total // 2)) == total - total // 2


def test_an_ack_outside_what_was_sent_is_a_protocol_error() -> None:
    sender = StreamState()
    sender.send(b"abc")
    with pytest.raises(ProtocolError):
        sender.on_ack(4)
    sender.on_ack(2)
    with pytest.raises(ProtocolError):
        sender.on_ack(1)  # going back
    with pytest.raises(ProtocolError):
        sender.replay(1)  # the peer claims less than it confirmed


def test_a_gap_or_a_repeat_is_a_protocol_error_not_silently_healed() -> None:
    receiver = StreamState()
    receiver.on_data(encode_data(0, b"abc")[5:])
    with pytest.raises(ProtocolError):
        receiver.on_data(encode_data(0, b"abc")[5:])  # repeated
    with pytest.raises(ProtocolError):
        receiver.on_data(encode_data(4, b"x")[5:])  # gap


def test_the_bound_ends_the_stream_with_a_clear_error() -> None:
    sender = StreamState(max_unacked=1000)
    sender.send(b"x" * 600)
    with pytest.raises(ResumeBufferFull, match="1100 bytes"):
        sender.send(b"x" * 500)
    sender.on_ack(600)
    sender.send(b"x" * 1000)  # confirmed bytes made room


def test_large_writes_are_cut_into_bounded_frames() -> None:
    frames = StreamState().send(b"y" * (MAX_DATA * 2 + 1))
    assert len(frames) == 3
    assert [len(f) for f in frames] == [5 + 8 + MAX_DATA, 5 + 8 + MAX_DATA, 5 + 8 + 1]


def test_acks_fall_due_after_enough_bytes() -> None:
    receiver = StreamState(ack_every=10)
    receiver.on_data(encode_data(0, b"123456789")[5:])
    assert not receiver.ack_due()
    receiver.on_data(encode_data(9, b"0")[5:])
    assert receiver.ack_due()
    assert receiver.ack() == encode_ack(10)
    assert not receiver.ack_due()


@pytest.mark.parametrize(
    "blob",
    [
        bytes([9, 0, 0, 0, 0]),  # unknown kind
        bytes([Kind.ACK, 0, 0, 0, 9]) + bytes(9),  # an ACK is 8 bytes
        bytes([Kind.DATA, 0, 0, 0, 8]) + bytes(8),  # empty DATA
        bytes([Kind.DATA, 0x7F, 0, 0, 0]),  # longer than any DATA frame
        bytes([Kind.PROOF, 0, 0, 0, 1, 0]),
    ],
)
def test_malformed_frames_are_protocol_errors(blob: bytes) -> None:
    with pytest.raises(ProtocolError):
        Decoder().feed(blob)


@settings(max_examples=200)
@given(st.binary(max_size=64))
def test_the_decoder_raises_only_protocol_errors_on_garbage(blob: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        Decoder().feed(blob)


# -- the resumption key ------------------------------------------------------------------------
def _pair_keys() -> tuple[bytes, bytes]:
    eng, cus = Pake("engineer", "123456789", "pw"), Pake("customer", "123456789", "pw")
    eng.receive(cus.message())
    cus.receive(eng.message())
    return eng.resume_key, cus.resume_key


def test_both_sides_derive_the_same_resumption_key_apart_from_every_other_key() -> None:
    e, c = _pair_keys()
    assert e == c and len(e) == 32
    eng = Pake("engineer", "123456789", "pw")
    eng.receive(Pake("customer", "123456789", "pw").message())
    assert eng.resume_key != e  # another session, another key
    k = eng.keys
    assert eng.resume_key not in (
        k.confirm_engineer,
        k.confirm_customer,
        k.seal_engineer,
        k.seal_customer,
    )
    assert b"pw" not in eng.resume_key


def _sides() -> tuple[ResumeSecret, ResumeSecret]:
    e, c = _pair_keys()
    return ResumeSecret(e, "123456789", "engineer"), ResumeSecret(c, "123456789", "customer")


def test_a_resumption_proves_itself_and_moves_both_sides_to_a_new_key() -> None:
    eng, cus = _sides()
    token = eng.relay_token()
    assert token == cus.relay_token() and len(token) == 32
    he, hc = eng.hello(10), cus.hello(20)
    assert cus.verify(hc, he, eng.proof(he, hc))
    assert eng.verify(he, hc, cus.proof(hc, he))
    eng.advance(he, hc)
    cus.advance(hc, he)
    assert eng.relay_token() == cus.relay_token() != token  # single use
    he2, hc2 = eng.hello(0), cus.hello(0)
    assert cus.verify(hc2, he2, eng.proof(he2, hc2))


def test_a_recorded_proof_never_fits_a_new_nonce() -> None:
    eng, cus = _sides()
    he, hc = eng.hello(0), cus.hello(0)
    recorded = eng.proof(he, hc)
    fresh = cus.hello(0)  # the customer's next try has its own nonce
    assert not cus.verify(fresh, he, recorded)


def test_a_reflected_proof_is_refused() -> None:
    eng, cus = _sides()
    he, hc = eng.hello(0), cus.hello(0)
    assert not cus.verify(hc, he, cus.proof(hc, he))  # its own proof sent back


def test_a_proof_under_another_key_is_refused() -> None:
    eng, cus = _sides()
    stranger = ResumeSecret(bytes(32), "123456789", "engineer")
    he, hc = stranger.hello(0), cus.hello(0)
    assert not cus.verify(hc, he, stranger.proof(he, hc))


@given(st.binary(min_size=32, max_size=32), st.integers(min_value=0, max_value=2**64 - 1))
def test_hello_round_trips(nonce: bytes, offset: int) -> None:
    hello = Hello(nonce, offset)
    assert parse_hello(encode_hello(hello)[5:]) == hello


def test_control_frames_have_fixed_sizes() -> None:
    assert encode(Kind.CLOSE) == bytes([Kind.CLOSE, 0, 0, 0, 0])
    with pytest.raises(ValueError):
        encode(Kind.ACK, b"1")


# -- ending ---------------------------------------------------------------------------------
class _Sink(asyncio.Protocol):
    def __init__(self) -> None:
        self.lost = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(exc)


def test_both_ends_closing_at_once_close_their_carriers_without_lingering(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each end's CLOSE ends the other's wait for a goodbye: no carrier waits out the linger."""
    monkeypatch.setattr(transport, "CLOSE_LINGER", 3600.0)

    async def both() -> list[bool]:
        eng, cus = _sides()
        a_sock, b_sock = socket.socketpair()
        a = transport.ResumableTransport(eng, redial=None)
        b = transport.ResumableTransport(cus, redial=None)
        sinks = [_Sink(), _Sink()]
        await a.start(sinks[0], a_sock)
        await b.start(sinks[1], b_sock)
        a.write(b"last words")
        a.close()
        b.close()
        await asyncio.gather(*(sink.lost for sink in sinks))
        return list(await asyncio.gather(a.wait_closed(30), b.wait_closed(30)))

    assert asyncio.run(both()) == [True, True]


def test_a_malformed_frame_ends_the_stream_with_a_close_the_peer_can_read() -> None:
    """The side that finds a malformed frame says CLOSE and keeps reading for a while:
    closing with the hostile bytes unread would reset the connection, which can lose the
    CLOSE, and the peer would then try to resume a stream that was ended on purpose."""

    async def scene() -> tuple[bytes, BaseException | None, Exception | None]:
        _, cus = _sides()
        server = socket.create_server(("127.0.0.1", 0))
        peer = socket.create_connection(server.getsockname())
        ours, _ = server.accept()
        server.close()
        b = transport.ResumableTransport(cus, redial=None)
        sink = _Sink()
        await b.start(sink, ours)
        # a frame of an unknown kind, then more than one read takes, in a single write
        garbage = b"\xee" * 64 + b"\x00" * (1 << 20)
        loop = asyncio.get_running_loop()
        peer.setblocking(False)
        sending = asyncio.ensure_future(loop.sock_sendall(peer, garbage))
        got = bytearray()
        error: Exception | None = None
        try:
            async with asyncio.timeout(30):
                while chunk := await loop.sock_recv(peer, 65536):
                    got += chunk
        except OSError as exc:
            error = exc
        sending.cancel()
        with contextlib.suppress(BaseException):
            await sending
        ended = await sink.lost
        await b.wait_closed(5)
        peer.close()
        return bytes(got), ended, error

    got, ended, error = asyncio.run(scene())
    assert isinstance(ended, ProtocolError)
    assert error is None, f"the peer's connection was reset: {error!r}"
    assert got.endswith(encode(Kind.CLOSE)), got[-32:]


class _Echo(asyncio.Protocol):
    """Answers each message at once, as the agent answers a screen frame's ack or a command."""

    def __init__(self, stream: transport.ResumableTransport) -> None:
        self.stream = stream

    def data_received(self, data: bytes) -> None:
        self.stream.write(b"answer to " + data)


def test_an_answer_carries_the_ack_of_its_question_in_the_same_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A request answered at once needs no ACK of its own: it rides on the answer's DATA.

    The lone ACK (``ACK_DELAY``) and the heartbeat's are pushed out of the way here, so
    only an ACK that rides along can arrive.
    """
    monkeypatch.setattr(transport, "ACK_DELAY", 3600.0)
    monkeypatch.setattr(transport, "HEARTBEAT", 3600.0)

    async def scene() -> list[tuple[Kind, bytes]]:
        _, cus = _sides()
        server = socket.create_server(("127.0.0.1", 0))
        peer = socket.create_connection(server.getsockname())
        ours, _ = server.accept()
        server.close()
        stream = transport.ResumableTransport(cus, redial=None)  # the customer's end
        await stream.start(_Echo(stream), ours)
        loop = asyncio.get_running_loop()
        peer.setblocking(False)
        decoder, frames = Decoder(), []
        try:
            for asked, (offset, question) in enumerate(((0, b"frame 1"), (7, b"frame 2"))):
                await loop.sock_sendall(peer, encode_data(offset, question))
                async with asyncio.timeout(10):
                    while sum(f.kind is Kind.ACK for f in frames) <= asked + 1:  # + the first
                        frames += decoder.feed(await loop.sock_recv(peer, 65536))
        finally:
            stream.abort()
            peer.close()
        return [(f.kind, bytes(f.payload)) for f in frames]

    frames = asyncio.run(scene())
    # a carrier starts with an ACK of where its side stands; then each answer and its ACK
    assert [kind for kind, _ in frames] == [Kind.ACK, Kind.DATA, Kind.ACK, Kind.DATA, Kind.ACK]
    assert [parse_ack(payload) for kind, payload in frames if kind is Kind.ACK] == [0, 7, 14]
