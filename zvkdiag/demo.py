"""``make demo``: a local relay and a customer agent in this terminal.

The relay runs as a child process on 127.0.0.1; the agent uses the console
consent UI here, so you answer its questions with ``y``/``n``.  Once the ID
and password are known, the snippet to paste into Python or a notebook is
printed.  Ctrl-C ends everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys

from zvkdiag.agent.agent import Agent
from zvkdiag.consent.console_ui import ConsoleUI
from zvkdiag.consent.messages import default_language
from zvkdiag.wire import codes

__all__ = ["main"]

SNIPPET = """
--- The engineer's side: paste into Python or a notebook -------------------
import zvkdiag
with zvkdiag.connect("{sid}", "{pw}", relay="{relay}", engineer="Erika Muster") as s:
    r = s.run(["uname", "-a"])     # answer 'y' here in this terminal
    print(r.stdout)
----------------------------------------------------------------------------
"""


def _free_port(preferred: int = 8340) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
            return port


def main() -> int:
    relay = f"127.0.0.1:{_free_port()}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "zvkdiag", "relay", "--listen", relay],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    print(proc.stdout.readline().strip(), flush=True)
    try:
        asyncio.run(_agent(relay))
    except KeyboardInterrupt:
        pass
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
    return 0


async def _agent(relay: str) -> None:
    agent = Agent(ConsoleUI(default_language()), relay=relay)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, agent.quit)
    task = asyncio.create_task(agent.run())
    await agent.wait_ready()
    print(
        SNIPPET.format(
            sid=codes.format_id(agent.creds.session_id),
            pw=codes.format_password(agent.creds.password),
            relay=relay,
        ),
        flush=True,
    )
    await task


if __name__ == "__main__":
    sys.exit(main())
