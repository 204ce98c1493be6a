"""The Windows exe under Wine: size, start time to ID and password, capture rate at 1080p.

    .venv/bin/python bench/windows_bench.py [--grabs 60] [--warm-runs 3]

Builds (or takes from the cache) the exe of this checkout and its Wine prefix
(packaging/windows/build.py), then, in the same run:

- exe size beside the targets and the anchors' sizes (docs/windows.md cites them);
- start to ID and password: from starting the exe until it reported both and
  its window is on the Xvfb screen; cold = no Wine process running in the
  prefix, warm = the prefix's wineserver and desktop already up (median);
- capture at 1920x1080: mss (GDI ``BitBlt``) and zvkdiag's ``Capturer`` in the
  Windows Python under Wine, beside mss (XShm) in this Linux process, all on
  the same Xvfb; and whether Wine offers DXGI Desktop Duplication.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
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


def time_start(env: Any, exe: Path, display: str, relay: str, tmp: Path, run: int) -> float:
    """Seconds from starting the exe until ID and password are reported and its window is up."""
    report = tmp / f"start-{run}.txt"
    extra = {"DISPLAY": display, "ZVKDIAG_OUTPUT_FILE": "Z:" + str(report).replace("/", "\\")}
    start = time.perf_counter()
    proc = env.popen([str(exe), "--relay", relay, "--lang", "de"], extra_env=extra)
    try:
        deadline = start + 180
        while time.perf_counter() < deadline:
            text = report.read_text(encoding="utf-8") if report.exists() else ""
            if "Password: " in text and _window_up(display):
                return time.perf_counter() - start
            time.sleep(0.05)
        raise RuntimeError(f"no ID and password within 180 s:\n{text[-2000:]}")
    finally:
        proc.kill()
        proc.wait(10)


def _window_up(display: str) -> bool:
    done = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", "ZVK Fernwartung|ZVK Remote Support"],
        env={"DISPLAY": display},
        capture_output=True,
        text=True,
        check=False,
    )
    return bool(done.stdout.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grabs", type=int, default=60)
    parser.add_argument("--warm-runs", type=int, default=3)
    args = parser.parse_args(argv)

    build = load_build()
    env = build.ensure_env(log=True)
    exe: Path = build.cached_exe(log=True)
    size_mb = exe.stat().st_size / 1e6

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
        with xvfb(width=1024, height=768) as server, tempfile.TemporaryDirectory() as tmp:
            env.wineserver("-k")
            env.wineserver("-w")
            cold = time_start(env, exe, server.display, relay, Path(tmp), 0)
            keeper = env.popen(["wineserver", "-p"])  # keeps the prefix warm between runs
            warm = [
                time_start(env, exe, server.display, relay, Path(tmp), run)
                for run in range(1, args.warm_runs + 1)
            ]
            env.wineserver("-k")
            with contextlib.suppress(subprocess.TimeoutExpired):
                keeper.wait(10)
    finally:
        relay_proc.stop()

    warm_s = statistics.median(warm)
    gdi, ours = under_wine["mss_gdi"], under_wine["capturer"]
    w, h = under_wine["size"]
    print(f"exe: {size_mb:.1f} MB (target <= {TARGET_MB:.0f} MB)")
    print(
        f"start to ID and password: cold {cold:.1f} s, warm {warm_s:.1f} s (median of "
        f"{len(warm)}; target warm <= {TARGET_WARM_S:.0f} s)"
    )
    print(f"capture {w}x{h}, {args.grabs} grabs each:")
    print(f"  mss GDI under Wine      {gdi * 1e3:7.1f} ms/grab {1 / gdi:6.1f} fps")
    print(f"  Capturer under Wine     {ours * 1e3:7.1f} ms/grab {1 / ours:6.1f} fps")
    print(f"  mss XShm on Linux       {linux * 1e3:7.1f} ms/grab {1 / linux:6.1f} fps")
    print(f"  ratio GDI-under-Wine / Linux-XShm: {gdi / linux:.1f}x")
    print(f"  DXGI Desktop Duplication under Wine: {dxgi_state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
