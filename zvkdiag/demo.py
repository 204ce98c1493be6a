"""``make demo``: relay, customer agent and JupyterLab on this machine, in one command.

- a screen: this one, or a virtual one (Xvfb) when ``DISPLAY`` is unset;
- the relay as a child process on 127.0.0.1;
- the customer's agent in this process, with the console consent UI: you
  answer its questions here with ``y``/``n``; on a virtual screen the
  customer's own window (ID, password, the questions, the indicator while
  connected) is shown there too, and answers as well (see ``BothUIs``);
- JupyterLab on 127.0.0.1 with a token, serving a copy of ``notebooks/``,
  its kernel given the relay address and the demo's ID and password (kept
  current in a private file, since the password changes after each session).

It prints the URL of the quickstart notebook.  Ctrl-C (or closing the
terminal) ends everything within 5 s, even while a notebook cell blocks:
JupyterLab, its kernels (each in a session of its own) and the relay are
ended by process group, with SIGKILL after a short grace.  On a virtual
screen a desktop background, a terminal with a note and a clock are shown,
so the first screen view is not a black rectangle.
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
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from zvkdiag._errors import ZvkdiagError
from zvkdiag._proctree import end_tree
from zvkdiag.agent.agent import Agent
from zvkdiag.agent.control import LateControl
from zvkdiag.consent.both_ui import BothUIs
from zvkdiag.consent.console_ui import ConsoleUI
from zvkdiag.consent.messages import default_language, text
from zvkdiag.consent.model import AgentEvent, CodeIssued, ConsentUI, Decision
from zvkdiag.wire import codes

__all__ = ["main"]

NOTEBOOKS: Final = Path(__file__).resolve().parents[1] / "notebooks"
QUICKSTART: Final = "00_quickstart.ipynb"
DEMO_ENGINEER: Final = "Erika Muster (Demo)"
# Ctrl-C must end everything within 5 s, whatever a notebook cell is doing:
LAB_GRACE: Final = 2.5  # seconds for JupyterLab and its kernels before SIGKILL
RELAY_GRACE: Final = 1.0

BANNER = """
--- zvkdiag demo -------------------------------------------------------------
Open the engineer's notebook (ID and password are filled in already):

    {url}

Answer the customer's questions here in this terminal with y / n{window}.
Notebooks: {workdir}    JupyterLab log: {log}
Ctrl-C ends the demo.
------------------------------------------------------------------------------
"""

WINDOW_NOTE: Final = ",\nor in the customer's window on the virtual screen (see the screen view)"


class DemoConsoleUI(ConsoleUI):
    """The console UI that also keeps the demo's credentials file current."""

    def __init__(self, lang: str, creds_file: Path, control: LateControl | None = None) -> None:
        super().__init__(lang, control=control)
        self.creds_file = creds_file

    def show(self, event: AgentEvent) -> None:
        if isinstance(event, CodeIssued):
            write_credentials(self.creds_file, event.session_id, event.password)
        super().show(event)

    def answered_in_window(self, decision: Decision) -> None:
        """The prompt here was answered by a click in the customer's window."""
        if decision is not Decision.TIMEOUT:
            self._say(text(f"decision.{decision.value}", self.lang))


class DemoControl(LateControl):
    """A ``LateControl`` that keeps a quit asked for before the agent runs, then delivers it.

    Ctrl-C may come while JupyterLab is still starting; a lost quit would leave
    the agent (and so the demo) running after the window has gone.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._quitting = False

    def attach(self, agent: Agent) -> None:
        """The agent runs (its loop is set): forward from now on."""
        with self._lock:
            self.agent = agent
            if self._quitting:
                super().quit()

    def quit(self) -> None:
        with self._lock:
            self._quitting = True
            super().quit()


def write_credentials(path: Path, session_id: str, password: str) -> None:
    """Replace the file in one step, readable by this user only."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"id": session_id, "password": codes.format_password(password)}, f)
    os.replace(tmp, path)


@contextlib.contextmanager
def screen() -> Iterator[bool]:
    """A display for the agent: this one, or Xvfb when there is none (then True)."""
    if os.environ.get("DISPLAY"):
        yield False
        return
    from zvkdiag.testing.xvfb import xvfb

    try:
        with xvfb(own_session=True) as x, desktop(x.display):
            os.environ["DISPLAY"] = x.display
            print(f"No DISPLAY: started a virtual screen (Xvfb) on {x.display}.", flush=True)
            yield True
    except RuntimeError as exc:  # no Xvfb: everything but the screen view works
        print(f"No screen for the screen view: {exc}", flush=True)
        yield False


DESKTOP_COLOUR: Final = "#2f6f8f"
CUSTOMER_NOTE: Final = """\
Kundin: Mustermann GmbH, Lohnbuchhaltung
Problem: Das Portal der ZVK meldet seit heute früh
         "Zertifikat ungültig" beim Hochladen der Meldungen.

$ ping -c 2 portal.example
(hier tippt die Kundin, was der Techniker am Telefon sagt)
"""


@contextlib.contextmanager
def desktop(display: str) -> Iterator[None]:
    """What a customer's virtual screen shows: a background, a terminal with a note, a clock.

    Each program is optional (whatever of xsetroot, xterm, xclock is installed),
    so a first screen view shows a real picture rather than a black rectangle.
    """
    env = {**os.environ, "DISPLAY": display}
    if shutil.which("xsetroot"):
        subprocess.run(["xsetroot", "-solid", DESKTOP_COLOUR], env=env, check=False, timeout=5)
    programs = []
    if shutil.which("xterm"):
        programs.append(
            ["xterm", "-geometry", "72x14+80+80", "-fa", "Monospace", "-fs", "12",
             "-title", "Notizen", "-e", "sh", "-c", f"printf '%s' '{CUSTOMER_NOTE}'; exec cat"]
        )  # fmt: skip
    if shutil.which("xclock"):
        programs.append(["xclock", "-geometry", "160x160-60+60", "-update", "1"])
    procs = [
        subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # they stay on screen until the demo ends them
        )
        for argv in programs
    ]
    try:
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(1)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


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
        end_tree(proc.pid, grace=RELAY_GRACE)
        proc.wait()


def _workdir(given: str | None) -> Path:
    folder = Path(given) if given else Path(tempfile.mkdtemp(prefix="zvkdiag-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    for nb in sorted(NOTEBOOKS.glob("*.ipynb")):
        if not (folder / nb.name).exists():  # never overwrite the user's edits
            shutil.copy(nb, folder / nb.name)
    return folder


def _creds_file(workdir: Path) -> Path:
    return workdir / ".zvkdiag-demo-credentials.json"


async def _run(
    args: argparse.Namespace, relay: str, workdir: Path, ui: ConsentUI, control: DemoControl
) -> int:
    from zvkdiag.jupyter.launch import start_lab

    creds_file = _creds_file(workdir)
    agent = Agent(ui, relay=relay)
    if threading.current_thread() is threading.main_thread():  # else the window's thread does
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: terminal closed
            loop.add_signal_handler(sig, agent.quit)
    task = asyncio.create_task(agent.run())
    await agent.wait_ready()
    control.attach(agent)
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
            BANNER.format(
                url=lab.notebook_url(QUICKSTART),
                workdir=workdir,
                log=lab.log_path,
                window=WINDOW_NOTE if isinstance(ui, BothUIs) else "",
            ),
            flush=True,
        )
        if args.smoke:
            print(f"smoke: JupyterLab answers /api: {lab.api()}", flush=True)
            agent.quit()
        await task
    finally:
        await asyncio.to_thread(lab.stop, LAB_GRACE)
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
    with screen() as virtual, relay_process() as relay:
        if virtual and not args.smoke:
            return _run_with_window(args, relay, workdir)
        return _run_in_terminal(args, relay, workdir)


def _run_in_terminal(args: argparse.Namespace, relay: str, workdir: Path) -> int:
    control = DemoControl()
    ui = DemoConsoleUI(args.lang, _creds_file(workdir), control)
    try:
        return asyncio.run(_run(args, relay, workdir, ui, control))
    except KeyboardInterrupt:
        return 0


def _run_with_window(args: argparse.Namespace, relay: str, workdir: Path) -> int:
    """The customer's Tk window on the virtual screen and the prompts in this terminal.

    Tk runs on the main thread (it turns Ctrl-C into ``quit``), the agent and
    JupyterLab's lifetime on a thread of their own, as in ``zvkdiag.quicksupport.app.run_tk``.
    """
    from zvkdiag.consent.tk_ui import TkUI

    control = DemoControl()
    try:
        window = TkUI(args.lang, control)
    except ZvkdiagError as exc:  # no Tk: the terminal alone does
        print(exc, flush=True)
        return _run_in_terminal(args, relay, workdir)
    console = DemoConsoleUI(args.lang, _creds_file(workdir), control)
    ui = BothUIs(console, window, tell_first=console.answered_in_window)

    def serve() -> None:
        try:
            asyncio.run(_run(args, relay, workdir, ui, control))
        finally:
            window.close()

    thread = threading.Thread(target=serve, name="zvkdiag-demo-agent", daemon=True)
    previous = {
        sig: signal.signal(sig, lambda _sig, _frame: control.quit())
        for sig in (signal.SIGTERM, signal.SIGHUP)  # SIGHUP: the terminal closed
    }
    thread.start()
    try:
        window.run()
    finally:
        control.quit()
        while thread.is_alive():  # JupyterLab is stopped there; a second Ctrl-C cuts it short
            thread.join(0.1)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
