"""Property-based and mutation fuzzing of every network parser (issue 8, "bad input").

Each target gets a few hundred inputs here: raw random bytes and havoc mutations
of valid messages.  ``bench/fuzz_bench.py`` runs 100,000 per target.  The only
acceptable failures are zvkdiag's own exceptions, each with a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import tracemalloc
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zvkdiag._errors import ProtocolError, UnknownProbe, ZvkdiagError
from zvkdiag.wire import frames, messages, requests
from zvkdiag.wire.pake import Pake

from .targets import KNOWN_BUGS, TARGETS, Target, mutate, run

EXAMPLES = 250  # per target; ~3,000 in all, a few seconds
NESTED = 5000  # deeper than json's recursion limit (~1000)


def inputs(target: Target) -> st.SearchStrategy[bytes]:
    seeds = list(target.seeds())
    mutated = st.builds(
        lambda i, r: mutate(seeds[i], random.Random(r), seeds),
        st.integers(0, len(seeds) - 1),
        st.integers(0, 2**32),
    )
    return st.one_of(mutated, mutated, st.binary(max_size=512))


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
def test_seeds_are_accepted(target: Target) -> None:
    """The fuzz starts from valid messages: if these failed, the mutations would prove little."""
    for seed in target.seeds():
        outcome = run(target, seed)
        assert not outcome.startswith("raised"), (seed[:60], outcome)


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
def test_fuzzed_input_raises_only_zvkdiag_errors(target: Target) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(inputs(target))
    def check(data: bytes) -> None:
        run(target, data)  # raises UnexpectedError for anything outside the hierarchy

    check()


JSON_PARSERS: dict[str, Callable[[bytes], object]] = {
    "frames.parse_fail": frames.parse_fail,
    "requests.parse_request": lambda b: requests.parse_request(b.decode()),
    "requests.parse_header": lambda b: requests.parse_header(b + b"\n"),
}


@pytest.mark.parametrize("name", JSON_PARSERS)
def test_json_nested_past_the_recursion_limit_is_a_protocol_error(name: str) -> None:
    with pytest.raises(ProtocolError):
        JSON_PARSERS[name](b"[" * NESTED)


def test_sealed_json_nested_past_the_recursion_limit_is_a_protocol_error() -> None:
    engineer, customer = (
        Pake("engineer", "123456789", "abcdefgh"),
        Pake("customer", "123456789", "abcdefgh"),
    )
    engineer.receive(customer.message())
    customer.receive(engineer.message())
    # only a peer that knows the password can seal; it must still not crash the other side
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    sealed = AESGCM(engineer.keys.seal_engineer).encrypt(
        bytes(12), b"[" * NESTED, engineer.transcript
    )
    with pytest.raises(ProtocolError, match="not JSON"):
        customer.open(sealed)


@pytest.mark.parametrize("suggestions", [5, "processes", {"a": 1}, None, [1, [2]]])
def test_unknown_probe_header_with_odd_suggestions(suggestions: object) -> None:
    header = {"ok": False, "error": "unknown-probe", "name": "proc", "suggestions": suggestions}
    with pytest.raises(UnknownProbe) as info:
        requests.raise_for_header(header)
    assert all(isinstance(s, str) for s in info.value.suggestions)


@pytest.mark.parametrize("kind", ["consent-denied", "command-timeout", "protocol", "other"])
def test_error_header_without_a_message_still_explains(kind: str) -> None:
    with pytest.raises(ZvkdiagError, match="refused"):
        requests.raise_for_header({"ok": False, "error": kind, "message": ""})


def test_decode_result_deep_nesting_is_a_protocol_error() -> None:
    from zvkdiag.probes.registry import DEFAULT_REGISTRY
    from zvkdiag.probes.wire import decode_result

    assert "probes.wire.decode_result" not in KNOWN_BUGS
    with pytest.raises(ProtocolError):
        decode_result(b'{"v":1,"rows":' + b"[" * NESTED, DEFAULT_REGISTRY.get("os"))


# -- declared sizes are never trusted: memory stays bounded -----------------------------------
def _peak(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        with contextlib.suppress(ZvkdiagError):
            fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_message_claiming_four_gib_allocates_nothing() -> None:
    async def read() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(messages.LENGTH.pack(0xFFFFFFFF) + b"x" * 100)
        reader.feed_eof()
        with pytest.raises(ProtocolError, match="exceeds"):
            await messages.read_message(reader, 1 << 20)

    assert _peak(lambda: asyncio.run(read())) < 256 * 1024


def test_screen_frame_claiming_huge_tiles_allocates_nothing() -> None:
    screen = pytest.importorskip("zvkdiag.screen.frames")
    import struct

    header = struct.pack(">2sBBQHHdH", b"ZS", 1, 1, 1, 8192, 8192, 0.0, 16384)
    tile = struct.pack(">HHHHBI", 0, 0, 8192, 8192, 2, 0xFFFFFFFF)
    blob = header + tile * 4

    def decode() -> None:
        with pytest.raises(ProtocolError):
            screen.decode_frame(blob)

    assert _peak(decode) < 256 * 1024


def test_failure_notice_text_is_bounded() -> None:
    reason, _ = frames.parse_fail(json.dumps({"reason": "x" * 4000, "tries_left": 1}).encode())
    assert len(reason) <= 64
