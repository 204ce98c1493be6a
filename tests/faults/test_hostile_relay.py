"""A relay that records or tampers: it learns nothing, and nothing runs on the customer's PC.

Extends tests/foundation (test_sessions.py: recording, single flipped bits;
test_mitm.py: the relay's own PAKE).  Here: probe output and file content in the
recording, replayed / reordered / dropped PAKE frames, the relay's own sealed
keys, a reflected stream, replayed and reordered SSH packets, and a whole
earlier session replayed.  Every command the engineer attempts would create a
marker file; the marker never appears and the customer is never asked.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import zvkdiag
from zvkdiag._sockio import recv_frame, recv_line, send_all
from zvkdiag.consent.model import FailedTry, Scope
from zvkdiag.resume.frames import Decoder, Kind, encode, encode_ack
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread
from zvkdiag.testing.proxies import TcpProxy
from zvkdiag.wire import frames, handshake
from zvkdiag.wire.frames import FrameType
from zvkdiag.wire.pake import Pake

ACK, ACK_FRAME = Kind.ACK, len(encode_ack(0))

HOSTILE = (
    zvkdiag.TamperingDetected,
    zvkdiag.AuthenticationFailed,
    zvkdiag.SessionClosed,
    zvkdiag.ProtocolError,
)


def _touch(marker: Path) -> list[str]:
    return ["sh", "-c", f"touch {marker}"]


def _attempt_command(address: str, agent: AgentThread, marker: Path) -> zvkdiag.ZvkdiagError:
    """Connect through ``address`` and try to run the marker command; return the error."""
    with pytest.raises(zvkdiag.ZvkdiagError) as info:
        with zvkdiag.connect(agent.session_id, agent.password, relay=address, engineer="E") as s:
            s.run(_touch(marker))
    assert isinstance(info.value, HOSTILE), repr(info.value)
    assert str(info.value)
    return info.value


# -- recording ----------------------------------------------------------------------------------
def test_recording_relay_sees_no_probe_output_and_no_file_content(
    agent: AgentThread, relay: RelayThread, tmp_path: Path
) -> None:
    content = f"geheimer-dateiinhalt-{secrets.token_hex(8)}\n" * 50
    src = tmp_path / "kunde.txt"
    src.write_text(content)
    upload = tmp_path / "fuer-kunde.txt"
    upload.write_text(f"upload-inhalt-{secrets.token_hex(8)}\n")
    inbox, got_dir = tmp_path / "inbox", tmp_path / "got"
    inbox.mkdir()
    got_dir.mkdir()
    with TcpProxy(relay.address) as spy:
        password = agent.password
        with zvkdiag.connect(agent.session_id, password, relay=spy.address, engineer="E") as s:
            os_table = s.probe("os")
            got = s.download(str(src), got_dir, progress=False)
            s.upload(upload, str(inbox), progress=False)
        seen = spy.seen()
    assert got.read_text() == content and (inbox / upload.name).exists()
    needles = [password, password.replace("-", ""), content[:30], upload.read_text()[:20]]
    needles += [str(v) for v in os_table.iloc[0].dropna() if len(str(v)) >= 6]
    needles += ["kunde.txt", "fuer-kunde", '"op"', "probe"]
    assert len(needles) > 8  # the probe gave us real values to look for
    for needle in needles:
        assert needle.encode() not in seen, needle


# -- tampering with the PAKE frames ------------------------------------------------------------
Manipulation = Callable[[list[bytes]], list[bytes]]


def _replay_pake(f: list[bytes]) -> list[bytes]:
    return [f[0], f[0], *f[1:]]


def _swap_confirm_sealed(f: list[bytes]) -> list[bytes]:
    return [f[0], f[2], f[1]]


def _drop_confirm(f: list[bytes]) -> list[bytes]:
    return [f[0], f[2]]


def _own_sealed_key(f: list[bytes]) -> list[bytes]:
    """The relay swaps in its own SSH key, sealed under a PAKE it ran itself."""
    mine, other = Pake("engineer", "123456789", "abcdefgh"), Pake("customer", "123456789", "x")
    mine.receive(other.message())
    sealed = mine.seal({"ssh_key": "ssh-ed25519 AAAA relay", "name": "Relay", "cert": None})
    return [f[0], f[1], frames.encode(FrameType.SEALED, sealed)]


def _flip_in_sealed(f: list[bytes]) -> list[bytes]:
    sealed = bytearray(f[2])
    sealed[-1] ^= 0x80
    return [f[0], f[1], bytes(sealed)]


class EngineerFrames:
    """A proxy rewrite: passes the engineer's handshake line, holds its first 3 frames,
    manipulates them as whole frames, then passes everything through untouched."""

    def __init__(self, manipulate: Manipulation) -> None:
        self.manipulate = manipulate
        self.buffer = bytearray()
        self.line_sent = False
        self.done = False

    def __call__(self, direction: str, position: int, data: bytes) -> bytes:
        if direction != "up" or self.done:
            return data
        out = b""
        if not self.line_sent:  # the CONNECT line goes on at once: PAIRED waits for it
            end = data.index(b"\n") + 1
            out, data, self.line_sent = data[:end], data[end:], True
        self.buffer += data
        parsed = self._split(bytes(self.buffer))
        if parsed is None:
            return out
        found, rest = parsed
        self.done = True
        return out + b"".join(self.manipulate(found)) + rest

    @staticmethod
    def _split(data: bytes) -> tuple[list[bytes], bytes] | None:
        at, found = 0, list[bytes]()
        while len(found) < 3:
            if len(data) < at + frames.HEADER:
                return None
            _, length = frames.decode_header(data[at : at + frames.HEADER])
            if len(data) < at + frames.HEADER + length:
                return None
            found.append(data[at : at + frames.HEADER + length])
            at += frames.HEADER + length
        return found, data[at:]


@pytest.mark.parametrize(
    "manipulate",
    [_replay_pake, _swap_confirm_sealed, _drop_confirm, _own_sealed_key, _flip_in_sealed],
    ids=["replayed-pake", "reordered", "dropped-confirm", "own-sealed-key", "flipped-sealed"],
)
def test_tampered_pake_frames_fail_on_both_sides_and_run_nothing(
    agent: AgentThread,
    relay: RelayThread,
    consent: AutoConsent,
    tmp_path: Path,
    manipulate: Manipulation,
) -> None:
    marker = tmp_path / "ran"
    with TcpProxy(relay.address, rewrite=EngineerFrames(manipulate)) as evil:
        _attempt_command(evil.address, agent, marker)
    assert consent.wait_for(lambda: any(isinstance(e, FailedTry) for e in consent.events))
    assert not consent.requests and not marker.exists()


class Reflector:
    """A relay that pairs the engineer with itself: every byte comes straight back."""

    def __init__(self) -> None:
        self.lsock = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.lsock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.lsock.accept()
        with conn:
            line = b""
            while not line.endswith(b"\n"):
                line += conn.recv(1)
            conn.sendall(handshake.PAIRED)
            while data := conn.recv(65536):
                conn.sendall(data)

    def close(self) -> None:
        self.lsock.close()


def test_reflected_stream_is_refused(tmp_path: Path) -> None:
    mirror = Reflector()
    try:
        with pytest.raises(zvkdiag.ProtocolError):
            zvkdiag.connect("123456789", "abcd-efgh", relay=mirror.address, engineer="E")
    finally:
        mirror.close()


# -- tampering with the SSH packets after the session started -------------------------------------
class ArmedRewrite:
    """Passes everything until ``armed``; then replays the engineer's chunks, or swaps
    the first two DATA frames of the engineer's resumable stream (ACKs pass as they are)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.armed = False
        self.held: bytes | None = None
        self.swapped = False
        self._frames = Decoder()

    def __call__(self, direction: str, position: int, data: bytes) -> bytes:
        if direction != "up" or not self.armed:
            return data
        if self.mode == "replay":
            return data + data
        out = bytearray()
        for frame in self._frames.feed(data):
            raw = encode(frame.kind, bytes(frame.payload))
            if frame.kind is not Kind.DATA or self.swapped:
                out += raw
            elif self.held is None:
                self.held = raw
            else:
                out += raw + self.held
                self.held, self.swapped = None, True
        return bytes(out)


@pytest.mark.parametrize("mode", ["replay", "reorder"])
def test_replayed_or_reordered_ssh_packets_end_the_session_before_anything_runs(
    agent: AgentThread, relay: RelayThread, consent: AutoConsent, tmp_path: Path, mode: str
) -> None:
    marker = tmp_path / "ran"
    rewrite = ArmedRewrite(mode)
    with TcpProxy(relay.address, rewrite=rewrite) as evil:
        s = zvkdiag.connect(agent.session_id, agent.password, relay=evil.address, engineer="E")
        rewrite.armed = True

        # two requests at once: two DATA frames to swap, whatever else is in flight
        async def both() -> list[object]:
            return await asyncio.gather(
                s.arun(_touch(marker), timeout=10),
                s.arun(_touch(marker), timeout=10),
                return_exceptions=True,
            )

        results = s.call(both(), timeout=60)
        assert all(isinstance(r, HOSTILE) and str(r) for r in results), results
        s.close()
    assert [q.scope for q in consent.requests] == [Scope.SESSION]
    assert not marker.exists()


def test_replaying_an_earlier_session_gets_nowhere(
    agent: AgentThread, relay: RelayThread, consent: AutoConsent, tmp_path: Path
) -> None:
    """The relay keeps a full recording of one session and plays it to the agent later."""
    marker = tmp_path / "ran"
    with TcpProxy(relay.address) as spy:
        first = agent.password
        with zvkdiag.connect(agent.session_id, first, relay=spy.address, engineer="E") as s:
            s.run(_touch(marker))
        recorded = bytes(spy.recorded["up"])
    marker.unlink()
    asked = len(consent.requests)
    agent.fresh_password(first)

    async def replay() -> list[FrameType]:
        host, port = relay.address.rsplit(":", 1)
        sock = socket.create_connection((host, int(port)))
        sock.setblocking(False)
        try:
            await send_all(sock, recorded)  # starts with the same ZVK1 CONNECT line
            assert handshake.parse_reply(await recv_line(sock, handshake.MAX_LINE)).kind == "paired"
            got = []
            while True:
                kind, _ = await recv_frame(sock)
                got.append(kind)
        except zvkdiag.ZvkdiagError:
            return got
        finally:
            sock.close()

    assert asyncio.run(replay()) == [FrameType.PAKE, FrameType.FAIL]
    assert len(consent.requests) == asked and not marker.exists()
