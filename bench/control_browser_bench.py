"""Remote control from the browser: a key in the canvas to the changed frame drawn in it.

One run, everything on this machine and on loopback: an Xvfb 1024x768 with a
German layout and a Tk text field at its top left (the customer's screen),
the relay and the customer agent (auto-answering consent UI) in processes of
their own, as on ZVK's server and the customer's PC,
JupyterLab as a child process, headless Debian Chromium driven by Playwright.
A notebook cell connects through the relay and shows ``s.screen()``; the
script presses "request control", then a key in the focused canvas every
``--gap`` seconds.

Both timestamps are taken in the page, on one clock: the key event's
``timeStamp`` (when the browser got the key) and ``performance.now()`` right
after the screen widget drew the first frame whose pixels in the text field's
first line differ from the picture at the key (the widget's ``zvk:drawn``
event).  The path in between: JupyterLab's websocket, the kernel, the session's
SSH channel through the relay, XTEST, Tk drawing, capture, encoding, the way
back, decoding and drawing.  The compositor's next frame (up to one display
refresh) comes on top.  No assertions: figures only.

The total is split into three legs by wall clock (one machine, one clock):
key event → the agent injects it (websocket, kernel, SSH through the relay),
→ the capture that shows it (the customer's program draws, DAMAGE, capture),
→ drawn in the canvas (encode, the way back, kernel, browser).  The agent
process wraps its ``Injector.apply`` to note the time and reports it at the end.

Run: ``.venv/bin/python bench/control_browser_bench.py [--keys 20] [--gap 0.4]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

import nbformat
from _common import start_relay

from zvkdiag.jupyter.launch import LabServer, start_lab
from zvkdiag.testing.xvfb import xvfb

CHROMIUM: Final = "/usr/bin/chromium"
CHROMIUM_ARGS: Final = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]
UI_TIMEOUT_MS: Final = 60_000
CANVAS: Final = ".jp-OutputArea-output canvas"
TEXT_LINE: Final = (0, 0, 600, 40)
"""x, y, w, h of the Tk field's first line on the customer's screen."""

TK_FIELD: Final = """
import tkinter as tk
root = tk.Tk()
root.geometry("600x300+0+0")
field = tk.Text(root, width=60, height=10, insertofftime=0)  # a blinking cursor is a change
field.pack(fill="both", expand=True)
root.update()
field.focus_force()
root.after(200, lambda: print("shown", flush=True))
root.mainloop()
"""

# Installed in the page: for each key, the key event's time and the first drawn frame that
# changed the watched area.
PROBE: Final = """([sel, area]) => {
  const canvas = document.querySelector(sel);
  const ctx = canvas.getContext('2d');
  const [x, y, w, h] = area;
  const grab = () => ctx.getImageData(x, y, w, h).data;
  const same = (a, b) => { for (let i = 0; i < a.length; i += 4) {
    if (a[i] !== b[i] || a[i + 1] !== b[i + 1] || a[i + 2] !== b[i + 2]) return false; }
    return true; };
  const epoch = (t) => (performance.timeOrigin + t) / 1000;
  window.zvkProbe = { waiting: null, results: [] };
  canvas.parentElement.addEventListener('keydown', (e) => {
    if (e.target === canvas) window.zvkProbe.waiting = { t0: e.timeStamp, before: grab() };
  }, true);
  canvas.addEventListener('zvk:drawn', (e) => {
    const w8 = window.zvkProbe.waiting;
    if (w8 === null || same(w8.before, grab())) return;
    window.zvkProbe.results.push({
      ms: e.detail.t - w8.t0, key: epoch(w8.t0), captured: e.detail.ts, drawn: epoch(e.detail.t),
    });
    window.zvkProbe.waiting = null;
  });
}"""


AGENT = """
import json, sys, time
from zvkdiag.control import injector
from zvkdiag.control.events import Key
from zvkdiag.testing.fakes import AgentThread, AutoConsent

times = []
original = injector.Injector.apply

def apply(self, events):
    if any(isinstance(e, Key) and e.down for e in events):
        times.append(time.time())
    original(self, events)

injector.Injector.apply = apply
with AgentThread(AutoConsent(), relay=sys.argv[1]) as agent:
    print(agent.session_id, agent.password, flush=True)
    sys.stdin.read()
print(json.dumps(times), flush=True)
"""


class AgentProcess:
    """The customer's agent in a process of its own (as on the customer's PC), noting when it
    injects a batch with a key-down (wall clock, one machine)."""

    def __init__(self, relay: str, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-W", "ignore", "-c", AGENT, relay],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.session_id, self.password = self.proc.stdout.readline().split()

    def finish(self) -> list[float]:
        out, _ = self.proc.communicate(timeout=30)
        return [float(t) for t in json.loads(out.strip().splitlines()[-1])]

    def __enter__(self) -> AgentProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _notebook(folder: Path, agent: AgentProcess, relay: str) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import zvkdiag\n"
            f"s = zvkdiag.connect({agent.session_id!r}, {agent.password!r}, "
            f"relay={relay!r}, engineer='Bench')\nview = s.screen()\nview"
        )
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(nb, folder / "bench.ipynb")
    return "bench.ipynb"


def _kernel_idle(page: Any, lab: LabServer) -> None:
    for _ in range(UI_TIMEOUT_MS // 250):
        sessions = lab.api("sessions")
        assert isinstance(sessions, list)
        if any(s.get("kernel", {}).get("execution_state") == "idle" for s in sessions):
            page.wait_for_selector(
                ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=UI_TIMEOUT_MS
            )
            return
        page.wait_for_timeout(250)
    raise RuntimeError("the notebook's kernel did not start")


def _drive(page: Any, lab: LabServer, name: str, keys: int, gap: float) -> list[dict[str, float]]:
    page.goto(lab.notebook_url(name))
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=UI_TIMEOUT_MS)
    _kernel_idle(page, lab)
    page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-InputPrompt").click()
    page.keyboard.press("Control+Enter")
    page.wait_for_function(
        f"() => document.querySelector('{CANVAS}')?.width === 1024", timeout=UI_TIMEOUT_MS
    )
    page.locator("button[name=control-request]").click()
    page.wait_for_selector(".zvk-control-state[data-state='on']", timeout=UI_TIMEOUT_MS)
    box = page.locator(CANVAS).bounding_box()
    page.mouse.click(box["x"] + 200, box["y"] + 100)  # into the Tk field; focuses the canvas
    page.wait_for_timeout(1000)
    page.evaluate(PROBE, [CANVAS, list(TEXT_LINE)])
    for i in range(keys + 2):  # the first two warm up
        page.keyboard.press("KeyX")
        page.wait_for_timeout(gap * 1000)
        if i == 1:
            page.evaluate("() => { window.zvkProbe.results = []; }")
    results: list[dict[str, float]] = page.evaluate("() => window.zvkProbe.results")
    return results


def run(keys: int, gap: float) -> tuple[list[dict[str, float]], list[float]]:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="zvkdiag-control-bench-") as tmp:
        root = Path(tmp)
        os.environ["XDG_DATA_HOME"] = str(root / "xdg-data")  # the agent's audit log
        with xvfb(1024, 768) as x:
            subprocess.run(["setxkbmap", "de"], env=x.env(), check=True)
            subprocess.run(["xsetroot", "-solid", "#3366cc"], env=x.env(), check=True)
            os.environ["DISPLAY"] = x.display  # the agent captures and types here
            tk = subprocess.Popen(
                [sys.executable, "-c", TK_FIELD],
                env={**x.env(), "LANG": "C.UTF-8"},
                stdout=subprocess.PIPE,
                text=True,
            )
            try:
                assert tk.stdout is not None and tk.stdout.readline().strip() == "shown"
                with start_relay() as relay, AgentProcess(relay.address, x.env()) as agent:
                    folder = root / "notebooks"
                    folder.mkdir()
                    name = _notebook(folder, agent, relay.address)
                    env = {
                        "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
                        "JUPYTERLAB_WORKSPACES_DIR": str(root / "workspaces"),
                        "IPYTHONDIR": str(root / "ipython"),
                        "DISPLAY": x.display,
                    }
                    with (
                        start_lab(folder, env=env, log_path=root / "jupyterlab.log") as lab,
                        sync_playwright() as p,
                    ):
                        context = p.chromium.launch_persistent_context(
                            str(root / "chromium-profile"),
                            executable_path=CHROMIUM,
                            headless=True,
                            args=CHROMIUM_ARGS,
                            viewport={"width": 1280, "height": 1000},
                        )
                        try:
                            page = context.new_page()
                            results = _drive(page, lab, name, keys, gap)
                        finally:
                            context.close()
                    return results, agent.finish()
            finally:
                tk.kill()
                tk.wait()


def _stats(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered):6.1f} ms   p90 {p90:6.1f} ms"


def _split(results: list[dict[str, float]], injected: list[float]) -> dict[str, list[float]]:
    """Each key's time into three legs, by wall clock (browser, agent and capture share it)."""
    legs: dict[str, list[float]] = {
        "key -> injected": [],
        "injected -> captured": [],
        "captured -> drawn": [],
    }
    for r in results:
        inject = next((t for t in injected if t >= r["key"] - 0.002), None)
        if inject is None or not r["key"] - 0.002 <= inject <= r["captured"] + 0.002:
            continue
        legs["key -> injected"].append((inject - r["key"]) * 1e3)
        legs["injected -> captured"].append((r["captured"] - inject) * 1e3)
        legs["captured -> drawn"].append((r["drawn"] - r["captured"]) * 1e3)
    return legs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=20)
    parser.add_argument("--gap", type=float, default=0.4, help="seconds between keys")
    args = parser.parse_args()
    started = time.monotonic()
    from control_bench import x11vnc_latency  # the shared harness's RFB client, same run

    vnc = {opts or "defaults": x11vnc_latency(args.keys, opts) for opts in ("", "-nonap")}
    results, injected = run(args.keys, args.gap)
    if not results:
        sys.exit("no key showed up on the canvas")
    total = sorted(r["ms"] for r in results)
    print(f"browser key -> changed frame drawn in the canvas, {len(total)}/{args.keys} keys:")
    print(f"  {'total':22} {_stats(total)}   (min {total[0]:.1f}, max {total[-1]:.1f})")
    print("  all: " + " ".join(f"{t:.0f}" for t in total))
    for leg, values in _split(results, injected).items():
        if values:
            print(f"  {leg:22} {_stats(values)}   ({len(values)} keys)")
    for name, (median, p90) in vnc.items():
        print(f"  x11vnc {name:15} median {median:6.1f} ms   p90 {p90:6.1f} ms")
    ratio = statistics.median(total) / vnc["-nonap"][0]
    print(f"  ratio of medians, browser canvas / x11vnc -nonap: {ratio:.2f}x")
    load = os.getloadavg()
    print(f"({time.monotonic() - started:.0f} s in all; load average {load[0]:.2f})")


if __name__ == "__main__":
    main()
