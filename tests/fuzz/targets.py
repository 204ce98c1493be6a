"""Every parser that reads bytes from the network, as a fuzz target, with seeds and a mutator.

Shared by the regular suite (hypothesis, a few hundred inputs per target) and by
``bench/fuzz_bench.py`` (100,000 per target).  A target takes raw bytes, feeds
them to the real parser exactly as the I/O layer would, and returns a short
outcome label.  The only acceptable failures are the project's own exceptions
(``ZvkdiagError`` and its subclasses); anything else escaping a target is a bug
and is re-raised as ``UnexpectedError`` by ``run``.

Which side parses what (docs/protocol.md):

- relay:    handshake requests (H1, H2, H4)
- engineer: relay replies (H3, H5, H6), PAKE frames, FAIL notices, sealed
  customer key, reply headers, payload messages, probe results, screen frames
- customer: relay replies, PAKE frames, sealed engineer hello, exec requests,
  payload messages, screen controls
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

import numpy as np

from zvkdiag._errors import (
    ConsentDenied,
    ProtocolError,
    TamperingDetected,
    UnknownProbe,
    ZvkdiagError,
)
from zvkdiag.wire import frames, handshake, messages, requests
from zvkdiag.wire.frames import FrameType
from zvkdiag.wire.pake import Pake

__all__ = ["KNOWN_BUGS", "TARGETS", "Target", "UnexpectedError", "mutate", "run"]

SESSION_ID: Final = "123456789"
PASSWORD: Final = "abcdefgh"
CLAIM: Final = "Ab3_-" * 6
MESSAGE_MAX: Final = 4096  # the bound read_message is given in the fuzz
CANVAS_MAX_PIXELS: Final = 256 * 256  # larger frames are decoded but not drawn (speed)


KNOWN_BUGS: Final[dict[str, type[BaseException]]] = {}
"""Target name -> the one foreign exception it is known to let through (reported, not hidden)."""


class UnexpectedError(AssertionError):
    """A parser let through an exception outside the zvkdiag hierarchy."""


@dataclass(frozen=True)
class Target:
    """One network parser: ``parse(data)`` returns an outcome label or raises ZvkdiagError."""

    name: str
    side: str
    parse: Callable[[bytes], str]
    seeds: Callable[[], Sequence[bytes]]


def run(target: Target, data: bytes) -> str:
    """Parse ``data``; the label of what happened, or UnexpectedError for a crash."""
    try:
        return target.parse(data)
    except ZvkdiagError as exc:
        if not str(exc):
            raise UnexpectedError(f"{target.name}: {type(exc).__name__} without a message") from exc
        return f"raised {type(exc).__name__}"
    except Exception as exc:
        if type(exc) is KNOWN_BUGS.get(target.name):
            return f"raised {type(exc).__name__} (known bug)"
        raise UnexpectedError(f"{target.name}: {type(exc).__name__}: {exc!r:.200}") from exc


# -- mutation -------------------------------------------------------------------------
_INTERESTING: Final = (
    b"\x00",
    b"\xff",
    b"\x7f",
    b"\x80",
    b"\xff\xff",
    b"\x10\x00",
    b"\x10\x01",
    b"\xff\xff\xff\xff",
    b"\x7f\xff\xff\xff",
    b"\x00\x00\x00\x00",
    b"\n",
    b"[",
    b"{",
    b'"',
    b"\\u0000",
    b"\xed\xa0\x80",  # a UTF-8 encoded surrogate
    b"1e999",
    b"-0",
    b"NaN",
)


def mutate(seed: bytes, rng: random.Random, others: Sequence[bytes] = ()) -> bytes:
    """One to four classic mutations of ``seed`` (AFL's havoc stage, in miniature)."""
    data = bytearray(seed)
    for _ in range(rng.randint(1, 4)):
        _MUTATIONS[rng.randrange(len(_MUTATIONS))](data, rng, others)
    return bytes(data)


def _pos(data: bytearray, rng: random.Random) -> int:
    return rng.randrange(len(data) + 1)


def _flip(data: bytearray, rng: random.Random, others: Sequence[bytes]) -> None:
    if data:
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)


def _set_byte(data: bytearray, rng: random.Random, others: Sequence[bytes]) -> None:
    if data:
        data[rng.randrange(len(data))] = rng.randrange(256)


def _insert(data: bytearray, rng: random.Random, others: Sequence[bytes]) -> None:
    i = _pos(data, rng)
    data[i:i] = rng.choice(_INTERESTING) if rng.random() < 0.5 else rng.randbytes(rng.randint(1, 8))


def _overwrite(data: bytearray, rng: random.Random, others: Sequence[bytes]) -> None:
    chunk = rng.choice(_INTERESTING)
    i = _pos(data, rng)
    data[i : i + len(chunk)] = chunk


def _delete(data: bytearray, rng: random.Random, others: Sequence[bytes]) -> None:
    if data:
        i = rng.randrange(len(data))
        del data[i : i + rng.randint(1, 16)]


def _repeat(data: bytearray, rng: random.Random, others: Sequence[bytes]) -> None:
    """Repeat a short slice many times: finds nesting and length-overflow bugs."""
    if data:
        i = rng.randrange(len(data))
        chunk = bytes(data[i : i + rng.randint(1, 4)])
        data[i:i] = chunk * rng.choice((2, 16, 300, 1500))


def _truncate(data: bytearray, rng: random.Random, others: Sequence[bytes]) -> None:
    del data[_pos(data, rng) :]


def _splice(data: bytearray, rng: random.Random, others: Sequence[bytes]) -> None:
    if others:
        other = rng.choice(others)
        cut = rng.randrange(len(other) + 1)
        data[_pos(data, rng) :] = other[cut:]


_MUTATIONS: Final = (_flip, _set_byte, _insert, _overwrite, _delete, _repeat, _truncate, _splice)


# -- relay handshake --------------------------------------------------------------------
def _parse_request(data: bytes) -> str:
    return type(handshake.parse_request(data)).__name__


def _parse_reply(data: bytes) -> str:
    return handshake.parse_reply(data).kind


def _request_seeds() -> list[bytes]:
    return [
        handshake.format_offer(),
        handshake.format_offer(SESSION_ID, CLAIM),
        handshake.format_connect(SESSION_ID),
    ]


def _reply_seeds() -> list[bytes]:
    return [
        handshake.PAIRED,
        handshake.format_id_reply(SESSION_ID, CLAIM),
        handshake.format_err(handshake.ERR_UNKNOWN_ID),
    ]


# -- PAKE frames ---------------------------------------------------------------------------
def _decode_header(data: bytes) -> str:
    kind, _ = frames.decode_header(data)
    return kind.name


def _parse_fail(data: bytes) -> str:
    frames.parse_fail(data)
    return "fail"


@cache
def _pakes() -> tuple[Pake, Pake]:
    """Templates of both sides before receive(): every input gets a copy."""
    return _fresh("engineer"), _fresh("customer")


def _fresh(role: str) -> Pake:
    return Pake("engineer" if role == "engineer" else "customer", SESSION_ID, PASSWORD)


@cache
def _finished_pair() -> tuple[Pake, Pake]:
    engineer, customer = _fresh("engineer"), _fresh("customer")
    engineer.receive(customer.message())
    customer.receive(engineer.message())
    return engineer, customer


def _pake_receive(data: bytes) -> str:
    # spake2 allows one finish() per instance; a copy of a template costs far less than a
    # new instance (which draws a scalar and multiplies, ~3 ms)
    engineer, customer = _pakes()
    from_engineer = data[1:2] == b"A"  # spake2's side byte follows our version byte
    side = copy.deepcopy(customer if from_engineer else engineer)
    side.receive(data)
    return "keys"


def _pake_open(data: bytes) -> str:
    engineer, customer = _finished_pair()
    try:
        customer.open(data)
    except TamperingDetected:
        engineer.open(data)
    return "opened"


def _pake_receive_seeds() -> list[bytes]:
    engineer, customer = _pakes()
    return [engineer.message(), customer.message()]


def _pake_open_seeds() -> list[bytes]:
    engineer, customer = _finished_pair()
    return [
        engineer.seal({"ssh_key": "ssh-ed25519 AAAA", "name": "Erika", "cert": None}),
        customer.seal({"ssh_key": "ssh-ed25519 AAAA"}),
    ]


def _frame_seeds() -> list[bytes]:
    return [
        frames.encode(FrameType.PAKE, b"\x01" + bytes(33))[:3],
        frames.encode(FrameType.FAIL, b"x" * 40)[:3],
        frames.encode(FrameType.SEALED, b"x" * 4096)[:3],
    ]


def _fail_seeds() -> list[bytes]:
    return [frames.fail_payload("auth-failed", 2), frames.fail_payload("tampered", None)]


# -- requests and reply headers ---------------------------------------------------------------
def _exec_request(data: bytes) -> str:
    op, _ = requests.parse_request(data.decode("utf-8", "surrogateescape"))
    return "op"


def _reply_header(data: bytes) -> str:
    header = requests.parse_header(data)
    try:
        requests.raise_for_header(header)
    except ZvkdiagError as exc:  # a well-formed error header: the agent's error, rebuilt
        assert str(exc), "an error header turned into an exception without a message"
        return f"header {type(exc).__name__}"
    return "ok"


def _exec_seeds() -> list[bytes]:
    return [
        requests.format_request("run", {"argv": ["sh", "-c", "echo hi"], "timeout": 5}).encode(),
        requests.format_request("probe", {"names": ["os"], "params": {}}).encode(),
        requests.format_request("session", {}).encode(),
    ]


def _header_seeds() -> list[bytes]:
    return [
        requests.ok_header(exit_status=0, truncated=False),
        requests.error_header(ConsentDenied("no", scope="command")),
        requests.error_header(UnknownProbe("proc", ["processes"])),
        requests.error_header(ProtocolError("bad")),
    ]


# -- payload messages (4-byte length prefix) over a real asyncio.StreamReader ---------------
@cache
def _loop() -> asyncio.AbstractEventLoop:
    return asyncio.new_event_loop()


async def _read_all(data: bytes) -> int:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    count = 0
    while await messages.read_message(reader, MESSAGE_MAX) is not None:
        count += 1
    return count


def _read_messages(data: bytes) -> str:
    return f"{_loop().run_until_complete(_read_all(data))} messages"


def _message_seeds() -> list[bytes]:
    one = messages.LENGTH.pack(5) + b"hello"
    return [one, one * 3, messages.LENGTH.pack(MESSAGE_MAX) + bytes(MESSAGE_MAX), b""]


# -- probe results ----------------------------------------------------------------------------
_PROBES: Final = ("os", "processes", "services")


def _decode_result(data: bytes) -> str:
    from zvkdiag.probes.registry import DEFAULT_REGISTRY
    from zvkdiag.probes.wire import decode_result

    probe = DEFAULT_REGISTRY.get(_PROBES[len(data) % len(_PROBES)])
    frame, _ = decode_result(data, probe)
    return f"{len(frame)} rows"


def _sample(dtype: str, i: int) -> Any:
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    samples: dict[str, Any] = {
        "Int64": 40 + i,
        "float64": 1.5 * i,
        "bool": i % 2 == 0,
        "boolean": None if i else True,
        "datetime64[ns, UTC]": when,
        "category": "running",
    }
    return samples.get(dtype, f"text {i}")


def _result_seeds() -> list[bytes]:
    from zvkdiag.probes.registry import DEFAULT_REGISTRY
    from zvkdiag.probes.runner import ProbeResult
    from zvkdiag.probes.wire import encode_result

    seeds = []
    for name in _PROBES:
        probe = DEFAULT_REGISTRY.get(name)
        records = tuple({c: _sample(d, i) for c, d in probe.columns.items()} for i in range(3))
        result = ProbeResult(name, records, ("a warning",), 0.25)
        seeds.append(encode_result(result))
    # decode_result picks the probe by len(data) % 3: pad each seed so it meets its own probe
    return [_pad_to(seed, i) for i, seed in enumerate(seeds)]


def _pad_to(seed: bytes, index: int) -> bytes:
    while len(seed) % len(_PROBES) != index:
        seed += b" "
    return seed


# -- screen frames and controls ---------------------------------------------------------------
def _screen() -> tuple[Any, Any] | None:
    """The screen decoders, if that package is present (it is being finished in parallel)."""
    try:
        from zvkdiag.screen import frames as screen_frames
        from zvkdiag.screen import reassemble
    except ImportError:
        return None
    return screen_frames, reassemble


def _decode_frame(data: bytes) -> str:
    mods = _screen()
    assert mods is not None
    screen_frames, reassemble = mods
    frame = screen_frames.decode_frame(data)
    if frame.keyframe and frame.width * frame.height <= CANVAS_MAX_PIXELS:
        reassemble.Canvas().apply(frame)  # the tile payloads are decoded here
        return "drawn"
    return "decoded"


def _decode_control(data: bytes) -> str:
    mods = _screen()
    assert mods is not None
    return str(mods[0].decode_control(data).kind.name)


def _frame_blobs() -> list[bytes]:
    from zvkdiag.screen import codec
    from zvkdiag.screen import frames as sf

    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (32, 48, 4), dtype=np.uint8)
    shown = pixels.copy()
    shown[5:9, 7:20] ^= 0x55
    tiles = (
        sf.Tile(0, 0, 48, 32, codec.Encoding.LOSSLESS, codec.encode_lossless(pixels)),
        sf.Tile(0, 0, 48, 32, codec.Encoding.XOR, codec.encode_xor(pixels, shown)),
        sf.Tile(0, 32, 48, 32, codec.Encoding.JPEG, codec.encode_jpeg(pixels)),
        sf.Tile(48, 0, 16, 16, codec.Encoding.COPY, codec.encode_copy(0, 0)),
    )
    key = sf.Frame(1, 64, 64, 1.7e9, True, tiles)
    delta = sf.Frame(2, 64, 64, 1.7e9, False, tiles[3:])
    compact = sf.FrameWriter()  # v2: a keyframe carries its whole header
    return [sf.encode_frame(key), sf.encode_frame(delta), compact.encode(key)]


def _control_blobs() -> list[bytes]:
    from zvkdiag.screen import frames as sf

    return [
        sf.encode_control(sf.Control(sf.ControlKind.ACK, 7)),
        sf.encode_control(sf.Control(sf.ControlKind.REFRESH)),
    ]


def _targets() -> tuple[Target, ...]:
    found = [
        Target("handshake.parse_request", "relay", _parse_request, _request_seeds),
        Target("handshake.parse_reply", "both", _parse_reply, _reply_seeds),
        Target("frames.decode_header", "both", _decode_header, _frame_seeds),
        Target("frames.parse_fail", "engineer", _parse_fail, _fail_seeds),
        Target("pake.receive", "both", _pake_receive, _pake_receive_seeds),
        Target("pake.open", "both", _pake_open, _pake_open_seeds),
        Target("requests.parse_request", "customer", _exec_request, _exec_seeds),
        Target("requests.parse_header+raise_for_header", "engineer", _reply_header, _header_seeds),
        Target("messages.read_message", "both", _read_messages, _message_seeds),
        Target("probes.wire.decode_result", "engineer", _decode_result, _result_seeds),
    ]
    if _screen() is not None:
        found += [
            Target("screen.decode_frame+Canvas.apply", "engineer", _decode_frame, _frame_blobs),
            Target("screen.decode_control", "customer", _decode_control, _control_blobs),
        ]
    return tuple(found)


TARGETS: Final = _targets()
