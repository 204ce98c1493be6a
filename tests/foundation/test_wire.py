import pytest

from zvkdiag import ConsentDenied, ProtocolError, TamperingDetected, UnknownProbe
from zvkdiag.wire import frames, handshake, requests
from zvkdiag.wire.pake import Pake


def test_handshake_lines_round_trip() -> None:
    assert handshake.parse_request(handshake.format_offer()) == handshake.Offer()
    claim = "A" * 32
    assert handshake.parse_request(handshake.format_offer("123456789", claim)) == handshake.Offer(
        "123456789", claim
    )
    assert handshake.parse_request(handshake.format_connect("123456789")) == handshake.Connect(
        "123456789"
    )
    assert handshake.parse_reply(handshake.format_id_reply("123456789", claim)).claim == claim
    assert handshake.parse_reply(b"PAIRED\n").kind == "paired"
    assert handshake.parse_reply(handshake.format_err("unknown-id")).reason == "unknown-id"


@pytest.mark.parametrize(
    "line",
    [
        b"ZVK1 OFFER",
        b"ZVK1 OFFER\r\n",
        b"zvk1 offer\n",
        b"ZVK1 CONNECT 12345678\n",
        b"ZVK1 CONNECT 012345678\n",
        b"ZVK1 OFFER 123456789 short\n",
        b"\xff\xfe\n",
        b"ZVK1 CONNECT 123456789" + b" " * 300 + b"\n",
        b"GET / HTTP/1.1\n",
    ],
)
def test_handshake_garbage_is_a_protocol_error(line: bytes) -> None:
    with pytest.raises(ProtocolError):
        handshake.parse_request(line)


def test_frames_are_bounded() -> None:
    data = frames.encode(frames.FrameType.PAKE, b"x" * 10)
    assert frames.decode_header(data[:3]) == (frames.FrameType.PAKE, 10)
    with pytest.raises(ProtocolError, match="exceeds"):
        frames.decode_header(b"\x01\xff\xff")
    with pytest.raises(ProtocolError, match="unknown frame type"):
        frames.decode_header(b"\x09\x00\x01")
    with pytest.raises(ValueError):
        frames.encode(frames.FrameType.SEALED, b"x" * (frames.MAX_PAYLOAD + 1))


def _pair(pw_a: str, pw_b: str, sid: str = "123456789") -> tuple[Pake, Pake]:
    a, b = Pake("engineer", sid, pw_a), Pake("customer", sid, pw_b)
    a.receive(b.message())
    b.receive(a.message())
    return a, b


def test_pake_confirms_same_password_and_seals() -> None:
    a, b = _pair("abcdefgh", "abcdefgh")
    assert b.verify_confirmation(a.confirmation()) and a.verify_confirmation(b.confirmation())
    assert b.open(a.seal({"ssh_key": "k"})) == {"ssh_key": "k"}


def test_pake_wrong_password_or_id_fails_confirmation() -> None:
    a, b = _pair("abcdefgh", "abcdefgk")
    assert not b.verify_confirmation(a.confirmation())
    a2, b2 = Pake("engineer", "123456789", "abcdefgh"), Pake("customer", "987654321", "abcdefgh")
    a2.receive(b2.message())
    b2.receive(a2.message())
    assert not b2.verify_confirmation(a2.confirmation())


def test_pake_reflected_confirmation_is_refused() -> None:
    a, b = _pair("abcdefgh", "abcdefgh")
    assert not a.verify_confirmation(a.confirmation())  # a relay bouncing our own MAC back


def test_sealed_message_flipped_bit_is_tampering() -> None:
    a, b = _pair("abcdefgh", "abcdefgh")
    sealed = bytearray(a.seal({"ssh_key": "k"}))
    sealed[5] ^= 1
    with pytest.raises(TamperingDetected):
        b.open(bytes(sealed))


@pytest.mark.parametrize("payload", [b"", b"\x02" + b"x" * 33, b"\x01" + b"x" * 100, b"\x01abc"])
def test_pake_garbage_message(payload: bytes) -> None:
    with pytest.raises(ProtocolError):
        Pake("customer", "123456789", "abcdefgh").receive(payload)


@pytest.mark.parametrize(
    "command",
    [
        None,
        "",
        "{}",
        "[]",
        '{"v":2,"op":"run"}',
        '{"v":1}',
        '{"v":1,"op":"RUN"}',
        '{"v":1,"op":"../x"}',
        "x" * 70000,
        "{nope",
    ],
)
def test_bad_requests(command: str | None) -> None:
    with pytest.raises(ProtocolError):
        requests.parse_request(command)


def test_request_and_error_headers_round_trip() -> None:
    op, params = requests.parse_request(requests.format_request("run", {"argv": ["ls"]}))
    assert (op, params) == ("run", {"argv": ["ls"]})
    header = requests.parse_header(requests.error_header(ConsentDenied("no", scope="command")))
    with pytest.raises(ConsentDenied) as info:
        requests.raise_for_header(header)
    assert info.value.scope == "command"
    header = requests.parse_header(requests.error_header(UnknownProbe("proceses", ["processes"])))
    with pytest.raises(UnknownProbe, match="processes"):
        requests.raise_for_header(header)
