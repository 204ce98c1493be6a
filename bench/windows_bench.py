"""The Windows exe under Wine: size, start time to ID and password, capture rate at 1080p.

    .venv/bin/python bench/windows_bench.py [--grabs 60] [--warm-runs 3] [--peer OTHER.exe]
        [--no-capture] [--relay HOST:PORT] [--ca-key CA.pub]

Builds (or takes from the cache) the exe of this checkout and its Wine prefix
(packaging/windows/build.py), with ``--relay`` and ``--ca-key`` built in as
customers get it (the relay is overridden at each start), then, in the same run:

- exe size beside the targets and the anchors' sizes (docs/windows.md cites them);
- start to ID and password: from starting the exe until it reported both and
  its window is on the Xvfb screen; cold = no Wine process running in the
  prefix, warm = the prefix's wineserver and desktop already up (median).
  Beside it, in the same runs (taking turns): the floor, a bare Tk exe built
  the same way (packaging/windows/floor_tk.py), and ``--peer`` (e.g. main's
  exe).  Each start is split into "Python main" (Wine's start, the
  bootloader's unpack, Python's start), "ID" (our imports, the relay) and
  "window" (first seen mapped on the screen);
- capture at 1920x1080: mss (GDI ``BitBlt``) and zvkdiag's ``Capturer`` in the
  Windows Python under Wine, beside mss (XShm) in this Linux process, all on
  the same Xvfb; and whether Wine offers DXGI Desktop Duplication.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import mss

from zvkdiag.testing.procs import Proc
from zvkdiag.testing.xvfb import xvfb

REPO: Final = Path(__file__).resolve().parent.parent
TARGET_MB: Final = 30.0
TARGET_WARM_S: Final = 5.0

CAPTURE_SCRIPT: Final = """
import json, sys, time
sys.path.insert(0, {repo!r})
import mss
from zvkdiag.screen.capture import Capturer
n = {grabs}
out = {{}}
with mss.MSS() as sct:
    mon = sct.monitors[1]
    sct.grab(mon)
    t = time.perf_counter()
    for _ in range(n):
        sct.grab(mon)
    out["mss_gdi"] = (time.perf_counter() - t) / n
    out["size"] = [mon["width"], mon["height"]]
with Capturer(1) as cap:
    cap.grab()
    t = time.perf_counter()
    for _ in range(n):
        cap.grab()
    out["capturer"] = (time.perf_counter() - t) / n
print("RESULT " + json.dumps(out), flush=True)
"""


def load_build() -> ModuleType:
    path = REPO / "packaging" / "windows" / "build.py"
    spec = importlib.util.spec_from_file_location("zvk_windows_build", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def linux_mss(display: str, grabs: int) -> float:
    with mss.MSS(display=display) as sct:
        mon = sct.monitors[1]
        sct.grab(mon)
        t = time.perf_counter()
        for _ in range(grabs):
            sct.grab(mon)
        return (time.perf_counter() - t) / grabs


def wine_capture(build: ModuleType, env: Any, display: str, grabs: int) -> dict[str, Any]:
    script = CAPTURE_SCRIPT.format(repo=build.windows_path(REPO), grabs=grabs)
    code, out = env.run([str(env.python), "-c", script], extra_env={"DISPLAY": display})
    for line in out.splitlines():
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[len("RESULT ") :])
            return result
    raise RuntimeError(f"capture under Wine failed (exit {code}):\n{out[-3000:]}")


def dxgi(build: ModuleType, env: Any, display: str) -> str:
    """What DXGI Desktop Duplication answers under this Wine (a mingw-built probe)."""
    source = REPO / "packaging" / "windows" / "dxgi_probe.c"
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(tmp) / "dxgi_probe.exe"
        gcc = build.MINGW_GCC
        subprocess.run(
            [gcc, "-O2", "-o", str(exe), str(source), "-ld3d11", "-ldxgi", "-luuid"], check=True
        )
        code, out = env.run([str(exe)], extra_env={"DISPLAY": display}, timeout=120)
    steps = [line for line in out.splitlines() if ": 0x" in line]
    verdict = "offered" if code == 0 else "not offered"
    return f"{verdict} ({steps[-1] if steps else out.strip()[-200:]})"


@dataclass(frozen=True)
class Start:
    """Seconds after starting the exe at which each step was first seen."""

    python_main: float | None
    reported: float
    window: float

    @property
    def total(self) -> float:
        return max(self.reported, self.window)


def time_start(env: Any, exe: Path, display: str, relay: str, tmp: Path, run: str) -> Start:
    """Seconds from starting the exe until ID and password are reported and its window is up."""
    report = tmp / f"start-{run}.txt"
    extra = {
        "DISPLAY": display,
        "ZVKDIAG_OUTPUT_FILE": "Z:" + str(report).replace("/", "\\"),
        "ZVKDIAG_START_TIMES": "1",
    }
    wall = time.time()
    start = time.perf_counter()
    proc = env.popen([str(exe), "--relay", relay, "--lang", "de"], extra_env=extra)
    reported = window = None
    text = ""
    try:
        deadline = start + 180
        while time.perf_counter() < deadline:
            text = report.read_text(encoding="utf-8") if report.exists() else ""
            now = time.perf_counter() - start
            if reported is None and "Password: " in text:
                reported = now
            if window is None and _window_up(display):
                window = now
            if reported is not None and window is not None:
                found = re.search(r"^Python main: ([0-9.]+)$", text, re.M)
                main_at = float(found.group(1)) - wall if found else None
                return Start(main_at, reported, window)
            time.sleep(0.05)
        raise RuntimeError(f"no ID and password within 180 s:\n{text[-2000:]}")
    finally:
        proc.kill()
        proc.wait(10)
        _end_windows_processes(exe)
        gone = time.perf_counter() + 20
        while _window_up(display) and time.perf_counter() < gone:
            time.sleep(0.1)


def _end_windows_processes(exe: Path) -> None:
    """Kill what runs ``exe`` in the prefix: the one-file exe is two Windows processes
    (bootloader, Python), and Wine starts them outside the launcher's process group."""
    name = "Z:" + str(exe).replace("/", "\\")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv0 = (entry / "cmdline").read_bytes().split(b"\0", 1)[0].decode("utf-8", "replace")
        except OSError:
            continue
        if argv0 == name:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGKILL)


def _window_up(display: str) -> bool:
    done = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", "ZVK Fernwartung|ZVK Remote Support"],
        env={"DISPLAY": display},
        capture_output=True,
        text=True,
        check=False,
    )
    return bool(done.stdout.strip())


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _fmt(value: float | None) -> str:
    return "   -" if value is None else f"{value:4.1f}"


def start_table(
    env: Any, exes: dict[str, Path], relay: str, warm_runs: int
) -> dict[str, tuple[Start, list[Start]]]:
    """Cold and warm starts of every exe; warm runs take turns so load hits all alike."""
    cold: dict[str, Start] = {}
    warm: dict[str, list[Start]] = {name: [] for name in exes}
    with xvfb(width=1024, height=768) as server, tempfile.TemporaryDirectory() as tmp:
        for name, exe in exes.items():
            env.wineserver("-k")
            env.wineserver("-w")
            cold[name] = time_start(env, exe, server.display, relay, Path(tmp), f"{name}-cold")
        keeper = env.popen(["wineserver", "-p"])  # keeps the prefix warm between runs
        for run in range(warm_runs):
            for name, exe in exes.items():
                start = time_start(env, exe, server.display, relay, Path(tmp), f"{name}-{run}")
                warm[name].append(start)
        env.wineserver("-k")
        with contextlib.suppress(subprocess.TimeoutExpired):
            keeper.wait(10)
    return {name: (cold[name], warm[name]) for name in exes}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grabs", type=int, default=60)
    parser.add_argument("--warm-runs", type=int, default=3)
    parser.add_argument("--peer", type=Path, help="another exe to time in the same runs")
    parser.add_argument("--no-capture", action="store_true", help="skip the capture figures")
    build = load_build()
    build.bake.add_options(parser)  # built in as customers get it: --relay, --ca-key
    args = parser.parse_args(argv)

    env = build.ensure_env(log=True)
    exes: dict[str, Path] = {
        "this": build.cached_exe(log=True, builtin=build.bake.from_options(args))
    }
    if args.peer:
        exes["peer"] = args.peer.resolve()
    exes["floor"] = build.cached_exe(log=True, floor=True)

    under_wine: dict[str, Any] = {}
    if not args.no_capture:
        with xvfb(width=1920, height=1080) as server:
            env.wineserver("-k")
            env.wineserver("-w")
            under_wine = wine_capture(build, env, server.display, args.grabs)
            linux = linux_mss(server.display, args.grabs)
            dxgi_state = dxgi(build, env, server.display)
            env.wineserver("-k")
            env.wineserver("-w")

    relay_proc = Proc("relay", "--listen", "127.0.0.1:0")
    try:
        relay = relay_proc.expect(r"Relay listening on (\S+)").group(1)
        starts = start_table(env, exes, relay, args.warm_runs)
    finally:
        relay_proc.stop()

    print(
        f"start to ID and password (s; warm = median of {args.warm_runs}; targets: exe <= "
        f"{TARGET_MB:.0f} MB, warm <= {TARGET_WARM_S:.0f} s)"
    )
    print("exe     size MB  cold  warm  warm: Python main    ID  window")
    for name, (cold, warm) in starts.items():
        size = exes[name].stat().st_size / 1e6
        print(
            f"{name:6} {size:8.1f}  {cold.total:4.1f}  "
            f"{statistics.median(s.total for s in warm):4.1f}"
            f"  {_fmt(_median([s.python_main for s in warm])):>17}"
            f"  {_fmt(_median([s.reported for s in warm]))}"
            f"  {_fmt(_median([s.window for s in warm]))}"
        )
    ours = statistics.median(s.total for s in starts["this"][1])
    for other in ("peer", "floor"):
        if other in starts:
            theirs = statistics.median(s.total for s in starts[other][1])
            print(f"ratio warm this / {other}: {ours / theirs:.2f}")
    if under_wine:
        gdi, cap = under_wine["mss_gdi"], under_wine["capturer"]
        w, h = under_wine["size"]
        print(f"capture {w}x{h}, {args.grabs} grabs each:")
        print(f"  mss GDI under Wine      {gdi * 1e3:7.1f} ms/grab {1 / gdi:6.1f} fps")
        print(f"  Capturer under Wine     {cap * 1e3:7.1f} ms/grab {1 / cap:6.1f} fps")
        print(f"  mss XShm on Linux       {linux * 1e3:7.1f} ms/grab {1 / linux:6.1f} fps")
        print(f"  ratio GDI-under-Wine / Linux-XShm: {gdi / linux:.1f}x")
        print(f"  DXGI Desktop Duplication under Wine: {dxgi_state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
