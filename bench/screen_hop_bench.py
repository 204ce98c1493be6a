"""The second hop: bytes on the kernel→browser websocket against the relay's, and decode time.

Where JupyterLab runs on a server, the websocket between the kernel and the
engineer's browser is a network link of its own.  This runs the real path on
this machine, once per form of the second hop in the same run, both with the
changed rectangles in one raw-deflate buffer per frame (zvkdiag.screen.browser):
"former" (``ScreenView.hop_lean = False``: the browser acknowledges every frame
and the kernel passes each ack upstream, ipywidgets' message envelope, the
first picture both as keyframe and as the answer to ``ready``) and "lean"
(now: cumulative acks every 32 frames or 1 s with the kernel's own window,
an empty parent header and a short header, one deflate stream across frames,
palettes for few colours, frames held until ``ready``);
``--forms rgba`` adds the raw RGBA form of exact tiles (lean otherwise):

- an Xvfb 1024x768 is the customer's screen; the relay (``--metrics``) and
  the customer agent (auto-answering consent UI) run in processes of their own;
- JupyterLab is a child process and headless Debian Chromium (Playwright) opens
  a notebook whose cell connects through the relay and shows ``s.screen()``;
- scenes play on the customer's screen, each for ``--seconds``, then the
  screen is left still until every part is refined (``--settle``):
  typing into a text field (xdotool), a table of numbers rewritten every
  200 ms, a 200x200 spinner at 25 fps, a photo-like picture replaced every
  500 ms; "open" is the first picture of the desktop (from running the cell;
  a text document stays open beside the scenes all along).

Chromium loads JupyterLab through a counting TCP proxy on loopback
(``zvkdiag.testing.proxies.TcpProxy``), so "link" is every byte the server
sent towards the browser during a scene, as a link between JupyterHub and the
engineer carries it: HTTP and websocket framing included, after
permessage-deflate when the websocket negotiated it.  ``--compression off on``
runs each form with the server's default (no websocket compression) and with
the project's settings (``websocket_compression_options = {}``) in the same run.

Per scene: the messages the page sent to the kernel ("to kern": acks, mostly), bytes
of all websocket frames the page received on the kernel's
channel ("ws"; "pix": of those, the binary buffers, i.e. without Jupyter's
message envelopes and the status replies to acks), bytes the relay copied
towards the engineer (its Prometheus counter, SSH framing and acks
included), the frames' own wire bytes (``msg.wire``), the page's time per
frame from its turn to drawn (decoding included: ``ms``) and the part in the
script's own tasks (``cpu``), the kernel's time making the browser messages
(``BrowserHop.frame_message``, timed inside the kernel), the Jupyter server
process's CPU time over the whole scene (``server ms``: relaying the kernel's
messages, compressing them when on, JupyterLab's polling), and whether the
canvas then equals an mss grab of the customer's screen pixel for pixel.
Playwright reports websocket payloads after decompression, so "ws" and "pix"
do not change with compression; "link" does.  With ``--runs N`` the forms take
turns N times and every figure is the median over the runs (frame times pooled).
No assertions: figures, and ratios against the other form of the same run.

Run: ``.venv/bin/python bench/screen_hop_bench.py [--seconds 8] [--settle 2.5]
[--forms lean] [--compression off on] [--runs 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import nbformat
import numpy as np
import psutil
from _common import RelayProcess, start_relay
from control_browser_bench import CANVAS, CHROMIUM, CHROMIUM_ARGS, UI_TIMEOUT_MS, _kernel_idle

from zvkdiag.jupyter.launch import start_lab
from zvkdiag.testing.canvas import canvas_pixels, screen_pixels
from zvkdiag.testing.proxies import TcpProxy
from zvkdiag.testing.xvfb import XServer, xvfb

WIDTH, HEIGHT = 1024, 768
FORMS: Final = {
    "former": ("deflate", False),
    "lean": ("deflate", True),
    "rgba": ("rgba", True),
}  # form -> (ScreenView.hop_form, ScreenView.hop_lean)
SCENES: Final = ("typing", "table", "spinner", "photo")
COMPRESSION: Final = ("off", "on")  # permessage-deflate on the server's websockets
TYPED: Final = "Sehr geehrte Damen und Herren, bitte pruefen Sie meinen Antrag. " * 4

SCENE: Final = """
import random, sys, tkinter as tk
mode, seconds = sys.argv[1], float(sys.argv[2])
root = tk.Tk()
root.overrideredirect(True)
root.geometry("640x420+40+40")
root.configure(bg="white")
end = None
def running():
    return end is not None and root.tk.call("clock", "milliseconds") < end
def start():
    global end
    end = root.tk.call("clock", "milliseconds") + int(seconds * 1000)
    tick()
if mode == "typing":
    field = tk.Text(root, width=70, height=20, font=("DejaVu Sans Mono", 11), insertofftime=0)
    field.pack(fill="both", expand=True)
    field.insert("end", "Antrag 2024-117\\n\\n")
    field.focus_force()
    def tick(): pass
elif mode == "table":
    cells = [[tk.Label(root, text="0", width=9, font=("DejaVu Sans Mono", 11), bg="white")
              for _ in range(6)] for _ in range(12)]
    for r, row in enumerate(cells):
        for c, cell in enumerate(row):
            cell.grid(row=r, column=c, padx=2, pady=2)
    def tick():
        for row in cells:
            for cell in row:
                cell.configure(text=f"{random.uniform(0, 99999):9.2f}")
        if running(): root.after(200, tick)
elif mode == "spinner":
    canvas = tk.Canvas(root, width=200, height=200, bg="white", highlightthickness=0)
    canvas.place(x=200, y=100)
    arc = canvas.create_arc(20, 20, 180, 180, start=0, extent=90, width=12, style="arc",
                            outline="#1565c0")
    angle = 0
    def tick():
        global angle
        angle = (angle + 14) % 360
        canvas.itemconfigure(arc, start=angle)
        if running(): root.after(40, tick)
else:  # photo: a noisy gradient, replaced twice a second
    import numpy as np
    label = tk.Label(root, bd=0)
    label.place(x=20, y=20)
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:300, 0:400]
    def picture(shift):
        base = np.stack([(xx + shift) % 256, (yy * 255) // 300, (xx + yy + 3 * shift) % 256], -1)
        noisy = np.clip(base + rng.integers(-30, 30, base.shape), 0, 255).astype(np.uint8)
        return tk.PhotoImage(data=b"P6 400 300 255 " + noisy.tobytes(), format="ppm")
    shift = 0
    def tick():
        global shift, image
        shift += 37
        image = picture(shift)
        label.configure(image=image)
        if running(): root.after(500, tick)
    image = picture(0)
    label.configure(image=image)
root.update()
print("shown", flush=True)
sys.stdin.readline()
root.after(0, start)
print("started", flush=True)
root.mainloop()
"""

DESKTOP: Final = """
import sys, tkinter as tk
root = tk.Tk()
root.overrideredirect(True)
root.geometry("300x680+710+40")
text = tk.Text(root, font=("DejaVu Sans", 10), wrap="word")
text.pack(fill="both", expand=True)
for i in range(60):
    line = f"{i:02d} Versicherungsnummer 12 345678 A 901, Rente ab 01.0{i % 9 + 1}.2027"
    text.insert("end", line + "\\n")
root.update()
print("shown", flush=True)
root.mainloop()
"""

AGENT: Final = """
import sys
from zvkdiag.testing.fakes import AgentThread, AutoConsent
with AgentThread(AutoConsent(), relay=sys.argv[1]) as agent:
    print(agent.session_id, agent.password, flush=True)
    sys.stdin.read()
"""

CELL: Final = """
import json, threading, time
import zvkdiag
import zvkdiag.screen.browser as _hop
from zvkdiag.widgets.screen import ScreenView

ScreenView.hop_form = {form!r}
ScreenView.hop_lean = {lean!r}
_made = [0, 0.0]
_original = _hop.BrowserHop.frame_message

def _timed(self, *args, **kwargs):
    t = time.perf_counter()
    try:
        return _original(self, *args, **kwargs)
    finally:
        _made[0] += 1
        _made[1] += time.perf_counter() - t

_hop.BrowserHop.frame_message = _timed

def _report():
    while True:
        with open({stats!r} + ".tmp", "w") as f:
            json.dump(_made, f)
        import os; os.replace({stats!r} + ".tmp", {stats!r})
        time.sleep(0.2)

threading.Thread(target=_report, daemon=True).start()
s = zvkdiag.connect({sid!r}, {pw!r}, relay={relay!r}, engineer="Bench")
view = s.screen()
view
"""

# Each drawn frame's figures, kept in the page from the moment this runs.
COLLECT: Final = """(sel) => {
  window.zvkHop = [];
  document.querySelector(sel).addEventListener('zvk:drawn', (e) => window.zvkHop.push(e.detail));
}"""


@dataclass
class Counters:
    """Running totals read at the start and the end of a scene."""

    ws: int = 0
    ws_buffers: int = 0
    to_kernel: int = 0
    relay: int = 0
    link: int = 0
    made: int = 0
    made_s: float = 0.0
    server_s: float = 0.0


@dataclass
class Phase:
    """One scene's figures for one form."""

    ws: int
    pixels: int
    to_kernel: int
    relay: int
    link: int
    wire: int
    frames: int
    ms: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    encode_ms: float = 0.0
    server_ms: float = 0.0
    exact: bool = False


class AgentProcess:
    """The customer's agent in a process of its own, as on the customer's PC."""

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

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@contextmanager
def scene(x: XServer, mode: str, seconds: float) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SCENE, mode, str(seconds)],
        env={**x.env(), "LANG": "C.UTF-8"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "shown"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def start_scene(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("go\n")
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == "started"


def _buffer_bytes(message: bytes) -> int:
    """Bytes of the binary buffers in one message of Jupyter's websocket protocol v1.

    The message is: n (u64 LE), n offsets (u64 LE), then the channel name, header,
    parent header, metadata, content, and the buffers; what is not a buffer is
    Jupyter's envelope.
    """
    if len(message) < 8:
        return 0
    (count,) = struct.unpack_from("<Q", message)
    if count < 6 or len(message) < 8 * (count + 1):
        return 0
    offsets = struct.unpack_from(f"<{count}Q", message, 8)
    return len(message) - offsets[5]


def relay_bytes(relay: RelayProcess) -> int:
    with urllib.request.urlopen(relay.metrics_url, timeout=5) as reply:
        text = reply.read().decode()
    match = re.search(r'_bytes_total\{direction="to_engineer"\} (\S+)', text)
    return int(float(match[1])) if match else 0


class Run:
    """One form of the second hop: JupyterLab, the page, the counters."""

    def __init__(
        self,
        page: Any,
        relay: RelayProcess,
        proxy: TcpProxy,
        server: psutil.Process,
        stats: Path,
        x: XServer,
    ) -> None:
        self.page = page
        self.server = server
        self.relay = relay
        self.proxy = proxy
        self.stats = stats
        self.x = x
        self.counters = Counters()
        page.on("websocket", self._watch)

    def _watch(self, ws: Any) -> None:
        if "/api/kernels/" not in ws.url:
            return

        def received(payload: str | bytes) -> None:
            size = len(payload.encode() if isinstance(payload, str) else payload)
            self.counters.ws += size
            if isinstance(payload, bytes):
                self.counters.ws_buffers += _buffer_bytes(payload)

        def sent(_payload: str | bytes) -> None:
            self.counters.to_kernel += 1

        ws.on("framereceived", received)
        ws.on("framesent", sent)

    def snapshot(self) -> Counters:
        made = json.loads(self.stats.read_text()) if self.stats.exists() else [0, 0.0]
        c = self.counters
        return Counters(
            c.ws,
            c.ws_buffers,
            c.to_kernel,
            relay_bytes(self.relay),
            self.proxy.counted["down"],
            made[0],
            made[1],
            sum(self.server.cpu_times()[:2]),
        )

    def phase(self, before: Counters, drawn: list[dict[str, float]]) -> Phase:
        after = self.snapshot()
        return Phase(
            ws=after.ws - before.ws,
            pixels=after.ws_buffers - before.ws_buffers,
            to_kernel=after.to_kernel - before.to_kernel,
            relay=after.relay - before.relay,
            link=after.link - before.link,
            wire=int(sum(d["wire"] for d in drawn)),
            frames=len(drawn),
            ms=[d["ms"] for d in drawn],
            cpu=[d["cpuMs"] for d in drawn],
            encode_ms=(after.made_s - before.made_s) * 1e3 / max(1, after.made - before.made),
            server_ms=(after.server_s - before.server_s) * 1e3,
            exact=bool(
                np.array_equal(canvas_pixels(self.page, CANVAS), screen_pixels(self.x.display))
            ),
        )

    def drawn(self) -> list[dict[str, float]]:
        got: list[dict[str, float]] = self.page.evaluate("() => window.zvkHop.splice(0)")
        return got


def run_form(
    form: str, compression: str, args: argparse.Namespace, x: XServer, relay: RelayProcess
) -> dict[str, Phase]:
    from playwright.sync_api import sync_playwright

    results: dict[str, Phase] = {}
    with tempfile.TemporaryDirectory(prefix=f"zvkdiag-hop-{form}-") as tmp:
        root = Path(tmp)
        folder = root / "notebooks"
        folder.mkdir()
        agent = AgentProcess(relay.address, {**os.environ, **x.env(), "XDG_DATA_HOME": tmp})
        stats = root / "made.json"
        nb = nbformat.v4.new_notebook()
        cell = CELL.format(
            form=FORMS[form][0],
            lean=FORMS[form][1],
            stats=str(stats),
            sid=agent.session_id,
            pw=agent.password,
            relay=relay.address,
        )
        nb.cells = [nbformat.v4.new_code_cell(cell.strip())]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
        nbformat.write(nb, folder / "hop.ipynb")
        env = {
            "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
            "JUPYTERLAB_WORKSPACES_DIR": str(root / "workspaces"),
            "IPYTHONDIR": str(root / "ipython"),
            "DISPLAY": x.display,
        }
        try:
            with (
                start_lab(
                    folder,
                    env=env,
                    log_path=root / "jupyterlab.log",
                    websocket_compression=compression == "on",
                ) as lab,
                TcpProxy(f"127.0.0.1:{lab.port}", record=False) as proxy,
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
                    run = Run(page, relay, proxy, psutil.Process(lab.proc.pid), stats, x)
                    # The page and all its requests go through the counting proxy.
                    page.goto(f"http://{proxy.address}/lab/tree/hop.ipynb?token={lab.token}")
                    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=UI_TIMEOUT_MS)
                    _kernel_idle(page, lab)
                    before = run.snapshot()
                    page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-InputPrompt").click()
                    page.keyboard.press("Control+Enter")
                    page.wait_for_function(
                        f"() => document.querySelector('{CANVAS}')?.width === {WIDTH}",
                        timeout=UI_TIMEOUT_MS,
                    )
                    page.evaluate(COLLECT, CANVAS)
                    page.wait_for_timeout(args.settle * 1000)
                    results["open"] = run.phase(before, run.drawn())
                    for mode in SCENES:
                        results[mode] = play(run, x, mode, args)
                finally:
                    context.close()
        finally:
            agent.close()
    return results


def play(run: Run, x: XServer, mode: str, args: argparse.Namespace) -> Phase:
    with scene(x, mode, args.seconds) as proc:
        run.page.wait_for_timeout(args.settle * 1000)  # the window appearing is not measured
        run.drawn()
        before = run.snapshot()
        start_scene(proc)
        if mode == "typing":
            subprocess.run(["xdotool", "mousemove", "300", "200"], env=x.env(), check=True)
            delay = max(1, int(args.seconds * 1000 / len(TYPED)))
            subprocess.run(
                ["xdotool", "type", "--delay", str(delay), TYPED], env=x.env(), check=True
            )
        else:
            run.page.wait_for_timeout(args.seconds * 1000)
        run.page.wait_for_timeout(args.settle * 1000)
        phase = run.phase(before, run.drawn())
    run.page.wait_for_timeout(1000)  # the window going away is not measured
    run.drawn()
    return phase


def _kb(n: int) -> str:
    return f"{n / 1e3:9.1f}"


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _p90(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def median_phase(phases: list[Phase]) -> Phase:
    """Each figure's median over the runs; frame times pooled; exact only if every run was."""

    def med(name: str) -> int:
        return int(statistics.median(getattr(p, name) for p in phases))

    return Phase(
        ws=med("ws"),
        pixels=med("pixels"),
        to_kernel=med("to_kernel"),
        relay=med("relay"),
        link=med("link"),
        wire=med("wire"),
        frames=med("frames"),
        ms=[m for p in phases for m in p.ms],
        cpu=[c for p in phases for c in p.cpu],
        encode_ms=statistics.median(p.encode_ms for p in phases),
        server_ms=statistics.median(p.server_ms for p in phases),
        exact=all(p.exact for p in phases),
    )


def report(results: dict[tuple[str, str], dict[str, Phase]]) -> None:
    print(
        f"{'scene':8} {'form':8} {'zip':3} {'frames':>6} {'to kern':>7} {'relay KB':>9} "
        f"{'link KB':>9} {'link/relay':>10} {'wire KB':>9} {'ws KB':>9} "
        f"{'ws/relay':>8} {'pix KB':>9} {'pix/relay':>9} {'ms med':>7} {'ms p90':>7} "
        f"{'cpu med':>7} {'kernel ms':>9} {'server ms':>9} exact"
    )
    for mode in ("open", *SCENES):
        for (form, zipped), phases in results.items():
            p = phases[mode]
            print(
                f"{mode:8} {form:8} {zipped:3} {p.frames:6d} {p.to_kernel:7d} {_kb(p.relay)} "
                f"{_kb(p.link)} {p.link / max(1, p.relay):10.2f} {_kb(p.wire)} {_kb(p.ws)} "
                f"{p.ws / max(1, p.relay):8.2f} {_kb(p.pixels)} {p.pixels / max(1, p.relay):9.2f} "
                f"{_median(p.ms):7.2f} {_p90(p.ms):7.2f} {_median(p.cpu):7.2f} "
                f"{p.encode_ms:9.2f} {p.server_ms:9.0f} {'yes' if p.exact else 'NO'}"
            )
    forms = list(dict.fromkeys(form for form, _ in results))
    zips = list(dict.fromkeys(zipped for _, zipped in results))
    if zips == list(COMPRESSION):
        print("ratios compression on / off (same run):")
        for form in forms:
            for mode in ("open", *SCENES):
                off, on = results[form, "off"][mode], results[form, "on"][mode]
                print(
                    f"  {form:8} {mode:8} link bytes {on.link / max(1, off.link):6.3f}x   "
                    f"ws payload {on.ws / max(1, off.ws):6.3f}x"
                )
    if forms[:2] != ["former", "lean"]:
        return
    for zipped in zips:
        print(f"ratios lean / former (same run, compression {zipped}):")
        for mode in ("open", *SCENES):
            old, new = results["former", zipped][mode], results["lean", zipped][mode]
            print(
                f"  {mode:8} ws bytes {new.ws / max(1, old.ws):6.3f}x   "
                f"link bytes {new.link / max(1, old.link):6.3f}x   "
                f"decode ms (median) {_median(new.ms) / _median(old.ms):5.2f}x"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="how long each scene plays")
    parser.add_argument("--settle", type=float, default=2.5, help="still seconds after a scene")
    parser.add_argument(
        "--forms", nargs="+", choices=list(FORMS), default=["former", "lean"], help="forms to run"
    )
    parser.add_argument(
        "--compression",
        nargs="+",
        choices=COMPRESSION,
        default=list(COMPRESSION),
        help="permessage-deflate on the server's websockets: off (server default), on (ours)",
    )
    parser.add_argument("--runs", type=int, default=1, help="turns of every form; medians")
    args = parser.parse_args()
    started = time.monotonic()
    print(f"load average at start {os.getloadavg()[0]:.2f}", flush=True)
    keys = [(form, zipped) for zipped in args.compression for form in args.forms]
    runs: dict[tuple[str, str], list[dict[str, Phase]]] = {key: [] for key in keys}
    with xvfb(WIDTH, HEIGHT) as x, start_relay("--metrics", "127.0.0.1:0") as relay:
        subprocess.run(["xsetroot", "-solid", "#3366cc"], env=x.env(), check=True)
        desktop = subprocess.Popen(
            [sys.executable, "-c", DESKTOP], env=x.env(), stdout=subprocess.PIPE, text=True
        )
        try:  # a document beside the scenes: the first picture is not a plain colour
            assert desktop.stdout is not None and desktop.stdout.readline().strip() == "shown"
            for _ in range(args.runs):  # the forms take turns: the machine's load hits all
                for form, zipped in keys:
                    runs[form, zipped].append(run_form(form, zipped, args, x, relay))
        finally:
            desktop.kill()
            desktop.wait()
    results = {
        key: {mode: median_phase([r[mode] for r in got]) for mode in ("open", *SCENES)}
        for key, got in runs.items()
    }
    report(results)
    load = os.getloadavg()
    print(f"({time.monotonic() - started:.0f} s in all; load average {load[0]:.2f})")


if __name__ == "__main__":
    main()
