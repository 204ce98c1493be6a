"""Scenario B of the screen benchmark: small, frequent changes (a form, a table, a spinner).

Same command line and event log as the shared harness's ``scenario.py``
(``setup --workdir D [--assets A]``, ``run --log F``, ``teardown --workdir D``),
so ``screen_bench.py --scenario B`` drives it exactly like scenario A, and
``analyze.py`` reads its log unchanged.  Only loopback X11; no network.

Windows (one Tk process, ``screen_office_app.py``, Xft-antialiased fonts):

- ``vb-form``: a customer form (name, company, phone, mail, a message box);
- ``vb-table``: a 14 x 6 table of numbers, rewritten every 200 ms while on;
- ``vb-anim``: a 300 x 300 spinner with a bouncing ball, 25 frames/s while on.

=========  =====  ===================================================================
phase      time   activity
=========  =====  ===================================================================
a_idle     0-3 s  nothing
f_form     3-10 s 57 characters typed into the form, one ``xdotool type`` per 100 ms,
                  Tab between the fields
g_table    10-15  the table is rewritten every 200 ms (every number changes)
h_anim     15-20  the animation runs at 25 frames/s
=========  =====  ===================================================================

The form's text cursor blinks (Tk's default, 600/300 ms) until the end of
the run, then stays on, so the final picture can be compared pixel for pixel.
The run tells the Tk process what to do through a FIFO next to the log
(``control.fifo`` in the folder of ``--log``, the setup's ``--workdir``).
Content is deterministic (the numbers and the animation depend on the tick
count only); ``scenario_end`` logs an md5 of the final screen as ``scenario.py``
does.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Final, TextIO

PHASES: Final = (("a_idle", 3.0), ("f_form", 7.0), ("g_table", 5.0), ("h_anim", 5.0))
FORM_TEXT: Final = ("Erika Muster", "Muster GmbH", "+49 30 1234567", "erika@muster.example")
FIFO: Final = "control.fifo"
APP: Final = Path(__file__).with_name("screen_office_app.py")


def xdo(*args: object) -> None:
    subprocess.run(["xdotool", *(str(a) for a in args)], check=True)


def find_window(name: str, timeout: float = 15.0) -> int:
    out = subprocess.run(
        ["xdotool", "search", "--sync", "--name", f"^{name}$"],
        check=True,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return int(out.stdout.split()[0])


def screen_md5() -> str:
    data = subprocess.run(["xwd", "-root", "-silent"], check=True, capture_output=True).stdout
    return hashlib.md5(data[100:]).hexdigest()


def cmd_setup(a: argparse.Namespace) -> None:
    workdir = Path(a.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    fifo = workdir / FIFO
    if not fifo.exists():
        os.mkfifo(fifo)
    subprocess.run(["xsetroot", "-solid", "#3a6ea5"], check=True)
    app = subprocess.Popen(
        [sys.executable, str(APP), str(fifo)],
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "office_app.log").open("w"),
        start_new_session=True,
    )
    for name in ("vb-form", "vb-table", "vb-anim"):
        find_window(name)
    (workdir / "scenario_pids").write_text(f"{app.pid}\n")
    xdo("mousemove", 1900, 1060)
    xdo("windowfocus", "--sync", find_window("vb-form"))
    time.sleep(1.5)
    print("scenario B setup done, pid:", app.pid)


def cmd_teardown(a: argparse.Namespace) -> None:
    pids = Path(a.workdir).resolve() / "scenario_pids"
    if not pids.exists():
        return
    for line in pids.read_text().split():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(line), signal.SIGTERM)
    pids.unlink()


class Log:
    def __init__(self, path: str) -> None:
        self.f: TextIO = open(path, "w")  # noqa: SIM115 - open for the whole run

    def __call__(self, event: str, **kw: Any) -> None:
        self.f.write(json.dumps({"t": time.time(), "event": event, **kw}) + "\n")
        self.f.flush()


def sleep_until(t: float) -> None:
    if (d := t - time.time()) > 0:
        time.sleep(d)


def cmd_run(a: argparse.Namespace) -> None:
    log = Log(a.log)
    control = open(Path(a.log).resolve().parent / FIFO, "w", buffering=1)  # noqa: SIM115
    w_form = find_window("vb-form")
    log("scenario_start", display=os.environ.get("DISPLAY"), screen_md5=screen_md5())
    starts: dict[str, float] = {}
    t = time.time() + 0.2
    for name, duration in PHASES:
        starts[name] = t
        t += duration
    end = t

    def phase(name: str, previous: str | None) -> float:
        sleep_until(starts[name])
        if previous:
            log("phase_end", phase=previous)
        log("phase_start", phase=name)
        return starts[name]

    phase("a_idle", None)
    s = phase("f_form", "a_idle")
    xdo("windowfocus", "--sync", w_form)
    i = 0
    for field in FORM_TEXT:
        for ch in field:
            sleep_until(s + 0.1 * i)
            before = time.time()
            xdo("type", "--delay", "0", "--", ch)
            log("key", kind="typing", t_before=before, t_after=time.time(), char=ch)
            i += 1
        sleep_until(s + 0.1 * i)
        xdo("key", "--delay", "0", "Tab")
        i += 1
    s = phase("g_table", "f_form")
    control.write("table on\n")
    sleep_until(s + 5.0)
    control.write("table off\n")
    phase("h_anim", "g_table")
    control.write("anim on\n")
    sleep_until(end)
    control.write("anim off\n")
    log("phase_end", phase="h_anim")
    control.write("blink off\n")  # a blinking text cursor would never let the screen settle
    time.sleep(0.3)
    log("scenario_end", screen_md5=screen_md5())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("setup")
    s.add_argument("--workdir", required=True)
    s.add_argument("--assets", help="unused: scenario B makes no assets")
    s = sub.add_parser("teardown")
    s.add_argument("--workdir", required=True)
    s = sub.add_parser("run")
    s.add_argument("--log", required=True)
    a = p.parse_args()
    if "DISPLAY" not in os.environ:
        sys.exit("DISPLAY not set")
    {"setup": cmd_setup, "teardown": cmd_teardown, "run": cmd_run}[a.cmd](a)


if __name__ == "__main__":
    main()
