"""A relay that runs its own PAKE towards each side (guessing the password) gets nowhere."""

from __future__ import annotations

import asyncio
import socket

import pytest

import zvkdiag
from zvkdiag._sockio import recv_frame, recv_line, send_all
from zvkdiag.consent.model import FailedTry
from zvkdiag.engineer.loopthread import LoopThread
from zvkdiag.testing.fakes import AgentThread, AutoConsent
from zvkdiag.wire import frames, handshake
from zvkdiag.wire.frames import FrameType
from zvkdiag.wire.pake import Pake

GUESS = "abcdefgh"


class PakeMitmRelay:
    """Pairs nothing: plays engineer towards the customer and customer towards the engineer."""

    def __init__(self) -> None:
        self.lt = LoopThread("mitm")
        self.lsock = socket.create_server(("127.0.0.1", 0))
        self.lsock.setblocking(False)
        self.address = f"127.0.0.1:{self.lsock.getsockname()[1]}"
        self.customer: socket.socket | None = None
        self.lt.submit(self._serve())

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            sock, _ = await loop.sock_accept(self.lsock)
            sock.setblocking(False)
            asyncio.ensure_future(self._handle(sock))

    async def _handle(self, sock: socket.socket) -> None:
        req = handshake.parse_request(await recv_line(sock, handshake.MAX_LINE))
        if isinstance(req, handshake.Offer):
            await send_all(sock, handshake.format_id_reply("123456789", "c" * 32))
            self.customer = sock
            return
        assert self.customer is not None
        cust, self.customer = self.customer, None
        await send_all(sock, handshake.PAIRED)
        await send_all(cust, handshake.PAIRED)
        await asyncio.gather(
            self._as_engineer(cust), self._as_customer(sock), return_exceptions=True
        )
        cust.close()
        sock.close()

    async def _as_engineer(self, sock: socket.socket) -> None:
        p = Pake("engineer", "123456789", GUESS)
        await send_all(sock, frames.encode(FrameType.PAKE, p.message()))
        _, payload = await recv_frame(sock)
        p.receive(payload)
        await send_all(sock, frames.encode(FrameType.CONFIRM, p.confirmation()))
        await recv_frame(sock)  # the customer's FAIL

    async def _as_customer(self, sock: socket.socket) -> None:
        p = Pake("customer", "123456789", GUESS)
        await send_all(sock, frames.encode(FrameType.PAKE, p.message()))
        _, payload = await recv_frame(sock)
        p.receive(payload)
        await recv_frame(sock)
        await recv_frame(sock)
        await send_all(
            sock,
            frames.encode(FrameType.CONFIRM, p.confirmation())
            + frames.encode(FrameType.SEALED, p.seal({"ssh_key": "x"})),
        )

    def close(self) -> None:
        self.lt.stop()
        self.lsock.close()
        if self.customer is not None:
            self.customer.close()


def test_relay_running_its_own_pake_is_caught_on_both_sides() -> None:
    mitm = PakeMitmRelay()
    ui = AutoConsent()
    try:
        with AgentThread(ui, relay=mitm.address) as agent:
            assert agent.password.replace("-", "") != GUESS
            with pytest.raises(zvkdiag.TamperingDetected, match="interfering"):
                zvkdiag.connect("123456789", agent.password, relay=mitm.address, engineer="E")
            assert ui.wait_for(lambda: any(isinstance(e, FailedTry) for e in ui.events))
            assert not ui.requests  # nothing was ever asked, let alone run
    finally:
        mitm.close()
