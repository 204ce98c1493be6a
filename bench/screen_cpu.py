"""The screen streamer's own CPU per phase of scenario A, without SSH: A/B between trees.

``screen_bench.py`` measures the whole customer program against x11vnc, but
one run is a minute and its figures scatter with the machine's load.  This
one runs the streamer (``ScreenStreamer``: capture worker and event loop)
in a child process of each tree given, on a fresh Xvfb with the harness's
scenario, every frame acknowledged as soon as it is produced, and reports
per phase the CPU of the capture worker and of the event loop (from
``/proc/self/task``: ``schedstat``'s nanoseconds where the kernel keeps them),
in ms per produced frame and % of a core, with the frames/s and KB/s produced.
Trees alternate run by run (medians of ``--runs``), so both see the same load.

``--stages``: also where the capture worker's and the loop's CPU goes, per
phase: the named steps (``STAGES``) are wrapped to add up their own thread's
CPU time (``time.thread_time``), reported in microseconds per produced frame.
Stages nest (``encode`` includes ``palette``): each figure includes what runs
inside it.  The wrapping itself costs a few microseconds a call.

Run: ``.venv/bin/python bench/screen_cpu.py --trees /work/main . [--runs 3] [--stages]``
(Xvfb and the harness's tools only, no network).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Final

from _common import PYTHON, table
from screen_bench import PHASES, harness_dir, loadavg, scenario_screen

SAMPLE_EVERY: Final = 0.05  # seconds between reads of the threads' CPU
STAGES: Final = (  # (module, class, method, label) for ``--stages``, outermost first
    ("zvkdiag.screen.stream", "ScreenStreamer", "_produce", "worker turn"),
    ("zvkdiag.screen.stream", "ScreenStreamer", "_idle", "  waiting (select)"),
    ("zvkdiag.screen.capture", "Capturer", "quiet", "  look (DAMAGE)"),
    ("zvkdiag.screen.capture", "Capturer", "grab_changed", "  grab"),
    ("zvkdiag.screen.capture", "Capturer", "_shot", "    XShm transfer"),
    ("zvkdiag.screen.encoder", "FrameEncoder", "encode", "  encode"),
    ("zvkdiag.screen.encoder", "FrameEncoder", "_try_copy", "    compare + copy search"),
    ("zvkdiag.screen.encoder", "FrameEncoder", "_changed", "      compare"),
    ("zvkdiag.screen.encoder", "FrameEncoder", "_exact_tiles", "    exact tiles"),
    ("zvkdiag.screen.codec", "PaletteEncoder", "encode", "      palette + deflate"),
    ("zvkdiag.screen.encoder", "FrameEncoder", "_remember", "    remember"),
    ("zvkdiag.screen.stream", "ScreenStreamer", "_seal", "loop: seal"),
)


def time_stages(calls: list[tuple[float, str, float]]) -> None:
    """Wrap each of ``STAGES`` to append (wall time, label, own thread's CPU s) per call."""
    import importlib

    for module, cls, name, label in STAGES:
        owner = getattr(importlib.import_module(module), cls, None)
        original = getattr(owner, name, None)
        if original is None:  # another tree without this step
            continue

        def timed(*args: object, _f: Any = original, _label: str = label, **kw: object) -> Any:
            start = time.thread_time()
            try:
                return _f(*args, **kw)
            finally:
                calls.append((time.time(), _label, time.thread_time() - start))

        setattr(owner, name, timed)


def thread_cpu(tid: int) -> float:
    """CPU seconds of one thread of this process so far (0 once it has ended).

    From ``schedstat`` (nanoseconds) where the kernel keeps it, else utime + stime
    from ``stat`` (10 ms clock ticks: a phase of typing is a few ticks).
    """
    task = Path(f"/proc/self/task/{tid}")
    try:
        return int((task / "schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):  # no schedstat here, or the thread ended
        pass
    try:
        stat = (task / "stat").read_text()
    except FileNotFoundError:  # ended since the directory was listed
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child(display: str, events: Path, script: str, out: Path, stages: bool = False) -> None:
    """In the tree's interpreter: stream while the scenario plays, sample thread CPU."""
    calls: list[tuple[float, str, float]] = []
    if stages:
        time_stages(calls)
    from zvkdiag.screen.stream import ScreenStreamer

    streamer = ScreenStreamer(display=display)
    samples: list[tuple[float, float, float]] = []  # time, loop CPU, other threads' CPU
    produced: list[tuple[float, int]] = []
    loop_tid = threading.get_native_id()
    done = threading.Event()

    def sample() -> None:
        me = threading.get_native_id()
        while not done.wait(SAMPLE_EVERY):
            tids = [int(t) for t in os.listdir("/proc/self/task")]
            rest = sum(thread_cpu(t) for t in tids if t not in (me, loop_tid))
            samples.append((time.time(), thread_cpu(loop_tid), rest))

    async def main() -> None:
        scenario = await asyncio.create_subprocess_exec(
            PYTHON, script, "run", "--log", str(events), env={**os.environ, "DISPLAY": display}
        )
        waiter = asyncio.ensure_future(scenario.wait())
        waiter.add_done_callback(lambda _: streamer.stop())
        async for blob in streamer.frames():
            produced.append((time.time(), len(blob)))
            streamer.on_ack(streamer.flow.next_seq - 1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    asyncio.run(main())
    done.set()
    sampler.join()
    out.write_text(json.dumps({"samples": samples, "frames": produced, "stages": calls}))


def at(samples: list[list[float]], t: float, column: int) -> float:
    """A thread group's CPU seconds at wall time ``t`` (the next sample at or after it)."""
    for row in samples:
        if row[0] >= t:
            return row[column]
    return samples[-1][column]


def phases(events: Path) -> dict[str, tuple[float, float]]:
    starts: dict[str, float] = {}
    spans = {}
    for line in events.read_text().splitlines():
        event = json.loads(line)
        if event.get("event") == "phase_start":
            starts[event["phase"]] = event["t"]
        elif event.get("event") == "phase_end":
            spans[event["phase"]] = (starts[event["phase"]], event["t"])
    return spans


def one_run(tree: Path, harness: Path, work: Path, stages: bool) -> dict[str, dict[str, float]]:
    rundir = Path(tempfile.mkdtemp(dir=work))
    (rundir / "assets").mkdir()
    with scenario_screen(rundir, rundir / "assets", harness) as (display, env):
        out = rundir / "cpu.json"
        events = rundir / "events.jsonl"
        code = f"import sys; sys.path[:0] = [{str(tree)!r}, {str(Path(__file__).parent)!r}]; "
        code += "import screen_cpu as m; "
        code += "m.child(*sys.argv[1:3], sys.argv[3], m.Path(sys.argv[4]), sys.argv[5] == '1')"
        script = str(harness / "scenario.py")
        subprocess.run(
            [PYTHON, "-c", code, display, str(events), script, str(out), str(int(stages))],
            env=env,
            check=True,
        )
    data = json.loads(out.read_text())
    result = {}
    for name, (t0, t1) in phases(events).items():
        frames = [n for t, n in data["frames"] if t0 <= t < t1]
        loop = at(data["samples"], t1, 1) - at(data["samples"], t0, 1)
        worker = at(data["samples"], t1, 2) - at(data["samples"], t0, 2)
        count = max(len(frames), 1)
        result[name] = {
            "worker %": 100 * worker / (t1 - t0),
            "loop %": 100 * loop / (t1 - t0),
            "worker ms/frame": 1000 * worker / count,
            "loop ms/frame": 1000 * loop / count,
            "frames/s": len(frames) / (t1 - t0),
            "KB/s": sum(frames) / 1000 / (t1 - t0),
        }
        for *_, label in STAGES:
            spent = sum(c for t, stage, c in data["stages"] if stage == label and t0 <= t < t1)
            result[name][f"{label} us/frame"] = 1e6 * spent / count
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--trees", nargs="+", type=Path, required=True)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--stages", action="store_true", help="also CPU per step of a frame")
    a = p.parse_args()
    harness = harness_dir()
    work = Path(tempfile.mkdtemp(prefix="zvk-screen-cpu-"))
    runs: dict[Path, list[dict[str, dict[str, float]]]] = {t: [] for t in a.trees}
    for i in range(a.runs):
        for tree in a.trees:
            print(f"run {i + 1}: {tree} (load average {loadavg()})", flush=True)
            runs[tree].append(one_run(tree.resolve(), harness, work, a.stages))
    print(f"load average at the end: {loadavg()}")
    keys = ("worker %", "loop %", "worker ms/frame", "loop ms/frame", "frames/s", "KB/s")
    if a.stages:
        keys += tuple(f"{label} us/frame" for *_, label in STAGES)
    rows = []
    for phase in PHASES["A"]:
        for key in keys:
            values = [_median(runs[t], phase, key) for t in a.trees]
            ratio = [f"{v / values[0]:.2f}x" if values[0] else "-" for v in values[1:]]
            rows.append([f"{phase} {key}", *(f"{v:.2f}" for v in values), *ratio])
    head = ["metric (median)", *(str(t) for t in a.trees), *(f"{t} / first" for t in a.trees[1:])]
    print(table(head, rows))
    return 0


def _median(results: list[dict[str, dict[str, float]]], phase: str, key: str) -> float:
    return statistics.median(r[phase][key] for r in results if phase in r)


if __name__ == "__main__":
    sys.exit(main())
