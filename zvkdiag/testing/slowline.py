"""A whole zvkdiag session across a ``ShapedLink``: relay process, agent, engineer.

The relay runs as its own process in the engineer's namespace; the agent
(``AgentThread``, auto-consent) dials it from the customer's namespace
through the delay forwarder, so everything the agent sends and receives
crosses the shaped veth and the delay; the engineer's ``Session`` connects
to the relay inside the engineer's namespace.  The X display is shared by
both namespaces through its socket file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import zvkdiag
from zvkdiag.screen.stream import ScreenStreamer
from zvkdiag.testing.fakes import AgentThread
from zvkdiag.testing.procs import Proc
from zvkdiag.testing.shaping import ShapedLink, entered

__all__ = ["SlowSession", "slow_session", "streamers"]


@dataclass
class SlowSession:
    agent: AgentThread
    session: zvkdiag.Session
    relay: Proc


def streamers(agent: AgentThread) -> list[ScreenStreamer]:
    """The agent's running screen streams (read them while the session is open)."""
    session = agent.agent.session
    return [] if session is None else list(session.streams)


@contextlib.contextmanager
def slow_session(link: ShapedLink, engineer: str = "Slow line") -> Iterator[SlowSession]:
    """A relay, an agent and a connected session across ``link``; all closed afterwards."""
    relay = Proc("relay", "--listen", "127.0.0.1:0", prefix=link.prefix(link.engineer))
    try:
        port = int(relay.expect(r"Relay listening on \S+:(\d+)").group(1))
        way_in = link.forward((link.engineer_ip, 0), ("127.0.0.1", port))
        with entered(link.customer):
            agent = AgentThread(relay=f"{way_in[0]}:{way_in[1]}")
        with agent:
            with entered(link.engineer):
                session = zvkdiag.connect(
                    agent.session_id, agent.password, relay=f"127.0.0.1:{port}", engineer=engineer
                )
            with session:
                yield SlowSession(agent, session, relay)
    finally:
        relay.stop()
