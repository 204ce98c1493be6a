"""Live fuzzing: garbage at the real relay and at the agent's PAKE, then a legitimate session works.

Only loopback.  Each fuzz connection sends its bytes, half-closes and reads until
the other side closes, so every attempt is finished before the next check.
"""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zvkdiag
from zvkdiag._errors import ZvkdiagError
from zvkdiag._exchange import EngineerHello, customer_exchange, engineer_exchange
from zvkdiag.relay.server import RelayConfig
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread
from zvkdiag.wire import frames, handshake
from zvkdiag.wire.frames import FrameType
from zvkdiag.wire.pake import Pake

from .targets import CLAIM, mutate

RELAY_INPUTS = 300
AGENT_INPUTS = 60
EXCHANGE_EXAMPLES = 60
BATCH = 50  # below the relay's 100 connections per address
READ_TIMEOUT = 5.0
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ"


@pytest.fixture(autouse=True)
def _no_unhandled_task_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """A task that died of an exception nobody handled is a crash, even if the test passed."""
    yield
    crashes = [r.getMessage() for r in caplog.records if r.name == "asyncio" and r.levelno >= 40]
    assert not crashes


async def _poke(address: str, data: bytes) -> bytes:
    """Send ``data``, half-close, return everything the other side sent before closing."""
    host, port = address.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(data)
        await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        return await asyncio.wait_for(reader.read(-1), READ_TIMEOUT)
    except (ConnectionError, OSError):
        return b""
    finally:
        writer.close()


def _poke_all(address: str, inputs: list[bytes]) -> list[bytes]:
    async def main() -> list[bytes]:
        replies: list[bytes] = []
        for i in range(0, len(inputs), BATCH):
            replies += await asyncio.gather(*(_poke(address, d) for d in inputs[i : i + BATCH]))
        return replies

    return asyncio.run(main())


def _relay_inputs(rng: random.Random) -> list[bytes]:
    seeds = [
        handshake.format_offer(),
        handshake.format_offer("123456789", CLAIM),
        handshake.format_connect("123456789"),
        handshake.format_offer() + b"x" * 300,  # talks before PAIRED
    ]
    out = []
    for _ in range(RELAY_INPUTS):
        roll = rng.random()
        if roll < 0.7:
            out.append(mutate(rng.choice(seeds), rng, seeds))
        elif roll < 0.9:
            out.append(rng.randbytes(rng.randint(0, 600)))
        else:
            out.append(rng.randbytes(rng.randint(0, 40)) + b"\n")
    return out


@pytest.fixture
def fast_relay() -> Iterator[RelayThread]:
    config = RelayConfig(handshake_timeout=1.0, connect_wait=0.2, backoff_base=0.01)
    with RelayThread(config) as relay:
        yield relay


def _is_relay_reply(reply: bytes) -> bool:
    """Empty, or whole handshake lines the client may see (ID, then PAIRED or ERR)."""
    for line in reply.splitlines(keepends=True):
        handshake.parse_reply(line)  # raises ProtocolError for anything else
    return True


def test_relay_survives_garbage_and_still_pairs(fast_relay: RelayThread) -> None:
    replies = _poke_all(fast_relay.address, _relay_inputs(random.Random(8)))
    assert all(_is_relay_reply(r) for r in replies)
    assert sum(r.startswith(b"ERR bad-request") for r in replies) > RELAY_INPUTS // 2
    relay = fast_relay.relay
    assert fast_relay._lt.call(_settled(relay))  # every fuzz connection is gone again
    with AgentThread(AutoConsent(), relay=fast_relay.address) as agent:
        with zvkdiag.connect(
            agent.session_id, agent.password, relay=fast_relay.address, engineer="E"
        ) as s:
            assert s.run(["echo", "ok"]).stdout == "ok\n"


async def _settled(relay: object) -> bool:
    for _ in range(100):
        state = relay.state  # type: ignore[attr-defined]
        if state.live_offers == 0 and not relay.limiter._count:  # type: ignore[attr-defined]
            return True
        await asyncio.sleep(0.05)
    return False


# -- the agent's PAKE, before SSH --------------------------------------------------------------
def _engineer_stream(session_id: str, password: str, rng: random.Random) -> bytes:
    """A plausible engineer opening (right or wrong password), then havoc on it."""
    pake = Pake("engineer", session_id, password)
    stream = frames.encode(FrameType.PAKE, pake.message())
    if rng.random() < 0.5:
        return mutate(stream, rng) if rng.random() < 0.7 else rng.randbytes(rng.randint(0, 300))
    peer = Pake("customer", session_id, password)  # stands in for the agent's message
    pake.receive(peer.message())
    sealed = pake.seal(_odd_hello(rng))
    tail = frames.encode(FrameType.CONFIRM, pake.confirmation()) + frames.encode(
        FrameType.SEALED, sealed
    )
    return stream + (mutate(tail, rng) if rng.random() < 0.8 else tail)


def _odd_hello(rng: random.Random) -> dict[str, object]:
    return rng.choice(
        [
            {"ssh_key": SSH_KEY, "name": "E", "cert": None},
            {"ssh_key": "not a key", "name": "E", "cert": None},
            {"ssh_key": SSH_KEY, "name": "\x1b[2J" * 100, "cert": "garbage"},
            {"ssh_key": 5, "name": None},
            {},
        ]
    )


def test_agent_pake_survives_garbage_and_still_connects(consent: AutoConsent) -> None:
    rng = random.Random(9)
    with AgentThread(consent, listen="127.0.0.1:0") as agent:
        for _ in range(AGENT_INPUTS):
            password = agent.agent.creds.password if rng.random() < 0.5 else "zzzzzzzz"
            data = _engineer_stream(agent.session_id, password, rng)
            # the first 3 bytes of the agent's answer are always its own PAKE frame
            reply = asyncio.run(_poke(agent.address, data))
            assert not reply or frames.decode_header(reply[:3])[0] is FrameType.PAKE
        assert not consent.requests  # no garbage ever reached a consent question
        with zvkdiag.connect(
            agent.session_id, agent.password, direct=agent.address, engineer="E"
        ) as s:
            assert s.run(["echo", "ok"]).stdout == "ok\n"


def test_agent_refuses_a_sealed_key_that_is_not_a_key(consent: AutoConsent) -> None:
    with AgentThread(consent, listen="127.0.0.1:0") as agent:
        password = agent.agent.creds.password
        pake = Pake("engineer", agent.session_id, password)
        hello = {"ssh_key": "not a key", "name": "E", "cert": None}

        async def talk() -> bytes:
            host, port = agent.address.rsplit(":", 1)
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(frames.encode(FrameType.PAKE, pake.message()))
            header = await reader.readexactly(3)
            _, length = frames.decode_header(header)
            pake.receive(await reader.readexactly(length))
            writer.write(
                frames.encode(FrameType.CONFIRM, pake.confirmation())
                + frames.encode(FrameType.SEALED, pake.seal(hello))
            )
            writer.write_eof()
            rest = await asyncio.wait_for(reader.read(-1), READ_TIMEOUT)
            writer.close()
            return rest

        assert asyncio.run(talk()) == b""  # closed without a CONFIRM of its own
        assert not consent.requests
        with zvkdiag.connect(
            agent.session_id, agent.password, direct=agent.address, engineer="E"
        ) as s:
            assert s.run(["true"]).ok


# -- both exchanges in-process, against a peer that sends fuzzed frames --------------------------
def _frames_strategy() -> st.SearchStrategy[bytes]:
    seed_pake = Pake("customer", "123456789", "abcdefgh")
    seeds = [
        frames.encode(FrameType.PAKE, seed_pake.message()),
        frames.encode(FrameType.FAIL, frames.fail_payload("auth-failed", 1)),
        frames.encode(FrameType.CONFIRM, bytes(32)) + frames.encode(FrameType.SEALED, bytes(60)),
    ]
    mutated = st.builds(
        lambda i, r: mutate(seeds[i], random.Random(r), seeds),
        st.integers(0, len(seeds) - 1),
        st.integers(0, 2**32),
    )
    return st.one_of(mutated, st.binary(max_size=300))


Exchange = Callable[[socket.socket], object]


def _engineer(sock: socket.socket) -> object:
    return engineer_exchange(sock, "123456789", "abcdefgh", hello=EngineerHello(SSH_KEY, "E"))


def _customer(sock: socket.socket) -> object:
    return customer_exchange(sock, "123456789", "abcdefgh", host_key=SSH_KEY, on_failure=lambda: 1)


async def _exchange_against(run: Exchange, data: bytes) -> None:
    ours, theirs = socket.socketpair()
    for s in (ours, theirs):
        s.setblocking(False)
    loop = asyncio.get_running_loop()
    try:
        await loop.sock_sendall(theirs, data)
        theirs.shutdown(socket.SHUT_WR)
        with pytest.raises(ZvkdiagError) as info:
            await run(ours)  # type: ignore[misc]
        assert str(info.value)
    finally:
        ours.close()
        theirs.close()


@pytest.mark.parametrize("side", [_engineer, _customer], ids=["engineer", "customer"])
def test_exchange_against_fuzzed_frames_raises_only_zvkdiag_errors(side: Exchange) -> None:
    @settings(
        max_examples=EXCHANGE_EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(_frames_strategy())
    def check(data: bytes) -> None:
        asyncio.run(_exchange_against(side, data))

    check()
