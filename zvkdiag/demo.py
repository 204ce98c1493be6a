"""``make demo``: relay, customer agent and JupyterLab on this machine, in one command.

- a screen: this one, or a virtual one (Xvfb) when ``DISPLAY`` is unset;
- the relay as a child process on 127.0.0.1;
- the customer's agent in this process, with the console consent UI: you
  answer its questions here with ``y``/``n``;
- JupyterLab on 127.0.0.1 with a token, serving a copy of ``notebooks/``,
  its kernel given the relay address and the demo's ID and password (kept
  current in a private file, since the password changes after each session).

It prints the URL of the quickstart notebook.  Ctrl-C ends everything.
``--smoke`` starts it all, checks that JupyterLab answers, and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from zvkdiag.agent.agent import Agent
from zvkdiag.consent.console_ui import ConsoleUI
from zvkdiag.consent.messages import default_language
from zvkdiag.consent.model import AgentEvent, CodeIssued
from zvkdiag.wire import codes

__all__ = ["main"]

NOTEBOOKS: Final = Path(__file__).resolve().parents[1] / "notebooks"
QUICKSTART: Final = "00_quickstart.ipynb"
DEMO_ENGINEER: Final = "Erika Muster (Demo)"

BANNER = """
--- zvkdiag demo -------------------------------------------------------------
Open the engineer's notebook (ID and password are filled in already):

    {url}

Answer the customer's questions here in this terminal with y / n.
Notebooks: {workdir}    JupyterLab log: {log}
Ctrl-C ends the demo.
------------------------------------------------------------------------------
"""


class DemoConsoleUI(ConsoleUI):
    """The console UI that also keeps the demo's credentials file current."""

    def __init__(self, lang: str, creds_file: Path) -> None:
        super().__init__(lang)
        self.creds_file = creds_file

    def show(self, event: AgentEvent) -> None:
        if isinstance(event, CodeIssued):
            write_credentials(self.creds_file, event.session_id, event.password)
        super().show(event)


def write_credentials(path: Path, session_id: str, password: str) -> None:
    """Replace the file in one step, readable by this user only."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"id": session_id, "password": codes.format_password(password)}, f)
    os.replace(tmp, path)


@contextlib.contextmanager
def screen() -> Iterator[None]:
    """A display for the agent: this one, or Xvfb when there is none."""
    if os.environ.get("DISPLAY"):
        yield
        return
    from zvkdiag.testing.xvfb import xvfb

    try:
        with xvfb() as x:
            os.environ["DISPLAY"] = x.display
            print(f"No DISPLAY: started a virtual screen (Xvfb) on {x.display}.", flush=True)
            yield
    except RuntimeError as exc:  # no Xvfb: everything but the screen view works
        print(f"No screen for the screen view: {exc}", flush=True)
        yield


@contextlib.contextmanager
def relay_process() -> Iterator[str]:
    from zvkdiag.jupyter.launch import free_port

    address = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "zvkdiag", "relay", "--listen", address],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # Ctrl-C reaches only us; we end it
    )
    try:
        assert proc.stdout is not None
        print(proc.stdout.readline().strip(), flush=True)
        yield address
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        if proc.poll() is None:
            proc.kill()


def _workdir(given: str | None) -> Path:
    folder = Path(given) if given else Path(tempfile.mkdtemp(prefix="zvkdiag-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    for nb in sorted(NOTEBOOKS.glob("*.ipynb")):
        if not (folder / nb.name).exists():  # never overwrite the user's edits
            shutil.copy(nb, folder / nb.name)
    return folder


async def _run(args: argparse.Namespace, relay: str, workdir: Path) -> int:
    from zvkdiag.jupyter.launch import start_lab

    creds_file = workdir / ".zvkdiag-demo-credentials.json"
    agent = Agent(DemoConsoleUI(args.lang, creds_file), relay=relay)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, agent.quit)
    task = asyncio.create_task(agent.run())
    await agent.wait_ready()
    env = {
        "ZVKDIAG_RELAY": relay,
        "ZVKDIAG_ENGINEER": DEMO_ENGINEER,
        "ZVKDIAG_DEMO_ID": codes.format_id(agent.creds.session_id),
        "ZVKDIAG_DEMO_PASSWORD": codes.format_password(agent.creds.password),
        "ZVKDIAG_DEMO_CREDENTIALS": str(creds_file),
    }
    lab = await asyncio.to_thread(start_lab, workdir, env=env, port=args.port)
    try:
        print(
            BANNER.format(url=lab.notebook_url(QUICKSTART), workdir=workdir, log=lab.log_path),
            flush=True,
        )
        if args.smoke:
            print(f"smoke: JupyterLab answers /api: {lab.api()}", flush=True)
            agent.quit()
        await task
    finally:
        await asyncio.to_thread(lab.stop)
        creds_file.unlink(missing_ok=True)  # the session is over: its password is no use to keep
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zvkdiag.demo", description=__doc__)
    parser.add_argument("--workdir", help="folder for the notebooks (default: a new temp folder)")
    parser.add_argument("--port", type=int, default=None, help="JupyterLab port (default: free)")
    parser.add_argument("--lang", default=default_language(), choices=["de", "en"])
    parser.add_argument("--smoke", action="store_true", help="start, check, stop (for tests)")
    args = parser.parse_args(argv)
    workdir = _workdir(args.workdir)
    with screen(), relay_process() as relay:
        try:
            return asyncio.run(_run(args, relay, workdir))
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main())
