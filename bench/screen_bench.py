"""Screen view: zvkdiag (through the relay) vs x11vnc (ZRLE, Tight, ZRLE -nonap), one run.

Every side gets a fresh Xvfb 1920x1080x24 and the same scripted ~33 s scenario
of the shared harness (``shared/bench/vnc``: idle, typing, scrolling in
``less``, dragging a picture window, 20 isolated key probes), and the same
analysis (``analyze.py run`` per run, ``analyze.py aggregate`` over runs), so
the numbers are comparable.  The harness is used in place, never copied:
``ZVKDIAG_VNC_HARNESS`` or ``../shared/bench/vnc`` next to the repository.

x11vnc (0.9.16)
    ``x11vnc -display :N -rfbport P -localhost -forever -shared -nopw`` (the
    options of ``run_baseline.sh``), measured by the harness's own RFB client
    ``vnc_measure.py`` with the ``zrle`` and ``tight`` presets, and once more
    with ``-nonap`` (x11vnc's fastest setting) and ZRLE for the latency target.
zvkdiag
    See ``screen_zvk.py``: the relay and the customer program as child
    processes, the engineer's ``s.frames()`` in this process.  ``chunks`` are
    the frame messages as the engineer reads them (SSH/TCP overhead comes on
    top; the TCP count of the engineer's socket is reported beside it).

Customer CPU is the x11vnc process, or the zvkdiag customer program, from
``/proc/PID/stat`` (utime + stime) over the scenario and its tail, divided by
that wall time.  Order in each round: x11vnc zrle, x11vnc tight, x11vnc zrle
-nonap, zvkdiag.  Only loopback traffic; every process is stopped.

Scenario B (``--scenario B``, ``screen_office.py``): small, frequent changes, a form being
typed into, a table of numbers rewritten every 200 ms, a 300 px animation at 25 frames/s,
driven and analysed the same way.

Run: ``.venv/bin/python bench/screen_bench.py [--scenario A|B] [--runs N] [--out DIR]``
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Final

from _common import PYTHON, free_port, machine, table
from screen_office import PHASES as PHASES_B
from screen_office_app import ANIM_PERIOD
from screen_zvk import run_zvkdiag

from zvkdiag.testing.xvfb import xvfb

PHASES: Final = {
    "A": ("a_idle", "b_typing", "c_scroll", "d_drag", "e_keyprobe"),
    "B": ("a_idle", "f_form", "g_table", "h_anim"),
}
OFFICE: Final = Path(__file__).with_name("screen_office.py")  # scenario B
_chosen = ["A"]  # the scenario of this run (--scenario)


def scenario_script(harness: Path) -> Path:
    """Scenario A is the harness's ``scenario.py``; B is ``screen_office.py`` (same CLI)."""
    return harness / "scenario.py" if _chosen[0] == "A" else OFFICE


X11VNC_START_TIMEOUT: Final = 15.0
BYTES_TARGET: Final = 0.3  # total bytes against ZRLE (issue 16)
PHASE_BYTES_TARGET: Final = 1.0  # bytes/s in every phase, and the first frame, against ZRLE
CPU_TARGET: Final = 0.75  # customer CPU against x11vnc ZRLE
UPDATES_TARGET: Final = 1.0
LATENCY_TARGET: Final = 0.1
FRAGMENT: Final = 5000  # bytes; see fragments()
ANIM_BOX: Final = (1400, 500, 300, 300)  # x, y, w, h: screen_office_app.py's spinner window
TICK: Final = ANIM_PERIOD  # 40 ms: the spinner's ticks, and the drag's moves in scenario.py
TICKS: Final = {"d_drag": 125, "h_anim": round(dict(PHASES_B)["h_anim"] / TICK)}  # per phase


@dataclass(frozen=True)
class Side:
    label: str
    encoding: str  # vnc_measure.py preset; "zvkdiag" for ours
    extra: tuple[str, ...] = ()

    @property
    def is_vnc(self) -> bool:
        return self.encoding != "zvkdiag"


SIDES: Final = (
    Side("zrle", "zrle"),
    Side("tight", "tight"),
    Side("zrle-nonap", "zrle", ("-nonap",)),
    Side("zvkdiag", "zvkdiag"),
)


def harness_dir() -> Path:
    env = os.environ.get("ZVKDIAG_VNC_HARNESS")
    where = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "bench" / "vnc"
    for name in ("scenario.py", "vnc_measure.py", "analyze.py"):
        if not (where / name).is_file():
            sys.exit(f"the VNC harness is not at {where} (set ZVKDIAG_VNC_HARNESS)")
    return where


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# -- one side, one run ---------------------------------------------------------------------


@contextmanager
def scenario_screen(
    rundir: Path, assets: Path, harness: Path
) -> Iterator[tuple[str, dict[str, str]]]:
    """A fresh Xvfb with the scenario's windows open; everything stopped afterwards."""
    with xvfb() as x:
        env = x.env()
        with (rundir / "setup.log").open("w") as log:
            subprocess.run(
                [
                    PYTHON,
                    str(scenario_script(harness)),
                    "setup",
                    "--workdir",
                    str(rundir),
                    "--assets",
                    str(assets),
                ],
                env=env,
                stdout=log,
                check=True,
            )
        try:
            yield x.display, env
        finally:
            subprocess.run(
                [PYTHON, str(scenario_script(harness)), "teardown", "--workdir", str(rundir)],
                env=env,
                check=False,
            )


def stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_x11vnc(side: Side, rundir: Path, display: str, env: dict[str, str], harness: Path) -> None:
    """x11vnc + vnc_measure.py + scenario.py run, as run_baseline.sh does it."""
    port = free_port()
    stdout = rundir / "x11vnc.stdout"
    with stdout.open("w") as out:
        proc = subprocess.Popen(
            [
                "x11vnc",
                "-display",
                display,
                "-rfbport",
                str(port),
                "-localhost",
                "-forever",
                "-shared",
                "-nopw",
                *side.extra,
                "-o",
                str(rundir / "x11vnc.log"),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + X11VNC_START_TIMEOUT
        while f"PORT={port}" not in stdout.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"x11vnc did not start (see {stdout})")
            time.sleep(0.1)
        scenario = [
            PYTHON,
            str(scenario_script(harness)),
            "run",
            "--log",
            str(rundir / "events.jsonl"),
        ]
        subprocess.run(
            [
                PYTHON,
                str(harness / "vnc_measure.py"),
                "--port",
                str(port),
                "--encoding",
                side.encoding,
                "--server-pid",
                str(proc.pid),
                "--scenario",
                shlex.join(scenario),
                "--out",
                str(rundir / "trace.json"),
            ],
            env=env,
            check=True,
        )
    finally:
        stop(proc)  # x11vnc writes its byte statistics into its log as it ends


def run_zvk(rundir: Path, display: str, env: dict[str, str], harness: Path) -> dict[str, Any]:
    measure = load_module(harness / "vnc_measure.py")  # its CPU sampler, same format
    result = run_zvkdiag(rundir, env, display, harness, measure, scenario_script(harness))
    (rundir / "trace.json").write_text(json.dumps(result.trace))
    return {
        "streamed_exact": result.streamed_exact,
        "streamed_settled": result.streamed_settled,
        "screenshot_exact": result.screenshot_exact,
        "differing_pixels": result.differing_pixels,
        "tcp_bytes_received": result.tcp_bytes_received,
        "frame_bytes_after_start": sum(
            n for t, n in result.trace["chunks"] if t >= result.trace["t_start"]
        ),
    }


def analyze(side: Side, rundir: Path, harness: Path) -> dict[str, Any]:
    """``analyze.py run`` unchanged; returns its result plus customer CPU s per s."""
    cmd = [PYTHON, str(harness / "analyze.py"), "run", "--trace", str(rundir / "trace.json")]
    cmd += ["--events", str(rundir / "events.jsonl"), "--out", str(rundir / "result.json")]
    cmd += ["--label", side.label]
    if side.is_vnc:
        cmd += ["--server-log", str(rundir / "x11vnc.log")]
    text = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    (rundir / "result.txt").write_text(text)
    result: dict[str, Any] = json.loads((rundir / "result.json").read_text())
    trace = json.loads((rundir / "trace.json").read_text())
    result["cpu_s_per_s"] = cpu_per_second(trace)
    result["machine_busy_pct"] = machine_busy(trace)
    result["scroll_fragments"] = fragments(trace, rundir / "events.jsonl", "c_scroll")
    result.update(scroll_steps(trace, rundir / "events.jsonl"))
    result.update(ticks_shown(trace, rundir / "events.jsonl", "d_drag"))
    result.update(ticks_shown(trace, rundir / "events.jsonl", "h_anim", ANIM_BOX))
    return result


def fragments(trace: dict[str, Any], events: Path, phase: str) -> int | None:
    """Updates of ``phase`` smaller than FRAGMENT bytes (pieces of a screen change).

    A scroll step of the scenario costs x11vnc ~95 KB and zvkdiag ~9 KB;
    anything under 5 KB in that phase is a piece of a step that came as an
    update of its own (a cursor cell, a strip that was read mid-redraw).
    """
    marks = [json.loads(line) for line in events.read_text().splitlines() if line.strip()]
    start = [e["t"] for e in marks if e["event"] == "phase_start" and e["phase"] == phase]
    end = [e["t"] for e in marks if e["event"] == "phase_end" and e["phase"] == phase]
    if not start or not end:
        return None
    return sum(
        1
        for u in trace["updates"]
        if start[0] <= u[1] < end[0] and any(r[4] >= 0 for r in u[3]) and u[2] < FRAGMENT
    )


def scroll_steps(trace: dict[str, Any], events: Path) -> dict[str, Any]:
    """Per scroll step of the scenario: was it shown, and when did its last update land?

    ``scenario.py`` sends 25 x "3 lines down" at phase start + 0.1 s * i, then
    10 x PageDown at + 2.5 s + 0.25 s * j.  An update belongs to the step
    before it.  The time from a step to the last update that belongs to it
    is when the viewer shows that step's final picture; updates/s counts
    pieces of one change as well, this does not.
    """
    marks = [json.loads(line) for line in events.read_text().splitlines() if line.strip()]
    start = [e["t"] for e in marks if e["event"] == "phase_start" and e["phase"] == "c_scroll"]
    end = [e["t"] for e in marks if e["event"] == "phase_end" and e["phase"] == "c_scroll"]
    if not start or not end:
        return {}
    steps = [start[0] + 0.1 * i for i in range(25)] + [start[0] + 2.5 + 0.25 * j for j in range(10)]
    bounds = [*steps[1:], end[0]]
    done = sorted(u[1] for u in trace["updates"] if any(r[4] >= 0 for r in u[3]))
    last: list[float | None] = []
    for t0, t1 in zip(steps, bounds, strict=True):
        mine = [t for t in done if t0 <= t < t1]
        last.append((mine[-1] - t0) * 1000 if mine else None)

    def median_ms(values: list[float | None]) -> float | None:
        shown = [v for v in values if v is not None]
        return statistics.median(shown) if shown else None

    return {
        "scroll_steps_shown": sum(v is not None for v in last),
        "scroll_final_ms_lines": median_ms(last[:25]),
        "scroll_final_ms_page": median_ms(last[25:]),
    }


def ticks_shown(
    trace: dict[str, Any],
    events: Path,
    phase: str,
    box: tuple[int, int, int, int] | None = None,
) -> dict[str, Any]:
    """A phase of ticks every ``TICK`` seconds: how many reached the viewer, in how many updates.

    Scenario A's drag moves the window every 40 ms from the start of
    ``d_drag``; scenario B's spinner (``screen_office_app.py``) draws a tick
    every ``ANIM_PERIOD`` (40 ms) from the start of ``h_anim``.  A tick counts
    as shown when an update (touching ``box``, if given) lands before the
    next tick.  updates/s counts a tick sent in two halves twice; this
    counts it once, and a tick folded into the next one not at all.
    """
    marks = [json.loads(line) for line in events.read_text().splitlines() if line.strip()]
    start = [e["t"] for e in marks if e["event"] == "phase_start" and e["phase"] == phase]
    end = [e["t"] for e in marks if e["event"] == "phase_end" and e["phase"] == phase]
    if not start or not end:
        return {}
    x0, y0, w, h = box or (0, 0, 1 << 30, 1 << 30)

    def touches(r: list[int]) -> bool:
        return (
            r[4] >= 0 and r[0] < x0 + w and x0 < r[0] + r[2] and r[1] < y0 + h and y0 < r[1] + r[3]
        )

    landed = [
        u[1] for u in trace["updates"] if start[0] <= u[1] < end[0] and any(map(touches, u[3]))
    ]
    ticks = {int((t - start[0]) / TICK) for t in landed}
    return {f"{phase}_ticks_shown": len(ticks), f"{phase}_tick_updates": len(landed)}


def cpu_per_second(trace: dict[str, Any]) -> float | None:
    samples = [c for c in trace.get("cpu", []) if c[1] is not None]
    if len(samples) < 2:
        return None
    first, last = samples[0], samples[-1]
    hz = trace.get("clk_tck", 100)
    return float((last[1] - first[1]) / hz / (last[0] - first[0]))


def machine_busy(trace: dict[str, Any]) -> float | None:
    cpu = trace.get("cpu", [])
    if len(cpu) < 2 or cpu[-1][3] <= cpu[0][3]:
        return None
    return float(100.0 * (cpu[-1][2] - cpu[0][2]) / (cpu[-1][3] - cpu[0][3]))


def run_side(side: Side, run: int, out: Path, harness: Path) -> dict[str, Any]:
    rundir = out / f"run{run}_{side.label}"
    rundir.mkdir(parents=True, exist_ok=True)
    print(f"=== run {run}: {side.label}  (load average {loadavg()})", flush=True)
    extra: dict[str, Any] = {"loadavg_before": loadavg()}
    with scenario_screen(rundir, out / "assets", harness) as (display, env):
        if side.is_vnc:
            run_x11vnc(side, rundir, display, env, harness)
        else:
            extra.update(run_zvk(rundir, display, env, harness))
    result = analyze(side, rundir, harness)
    result.update(extra)
    (rundir / "result.json").write_text(json.dumps(result, indent=1))
    print(
        f"    total {result['client_bytes_total'] / 1e6:.2f} MB, key latency median "
        f"{_num(result['probe_latency_median_ms'])} ms, customer CPU "
        f"{_num(result['cpu_s_per_s'], 3)} s/s, machine busy {_num(result['machine_busy_pct'])} %",
        flush=True,
    )
    time.sleep(1)
    return result


def _rundirs(out: Path, side: Side) -> list[Path]:
    found = out.glob(f"run*_{side.label}")
    return sorted(found, key=lambda d: int(d.name[3:].split("_", 1)[0]))


def reanalyze(side: Side, rundir: Path, harness: Path) -> dict[str, Any]:
    """Analyse a recorded run again, keeping what only the recording knew."""
    kept = json.loads((rundir / "result.json").read_text())
    result = analyze(side, rundir, harness)
    for key in ("loadavg_before", "streamed_exact", "streamed_settled", "screenshot_exact"):
        if key in kept:
            result[key] = kept[key]
    for key in ("differing_pixels", "tcp_bytes_received", "frame_bytes_after_start"):
        if key in kept:
            result[key] = kept[key]
    (rundir / "result.json").write_text(json.dumps(result, indent=1))
    return result


# -- the table -------------------------------------------------------------------------------


def median_of(results: Sequence[dict[str, Any]], get: Callable[[dict[str, Any]], Any]) -> Any:
    values = [v for v in (get(r) for r in results) if v is not None]
    if not values:
        return None
    if all(isinstance(v, bool) for v in values):
        return all(values)
    return statistics.median(values)


def _num(v: Any, digits: int = 1) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _ratio(a: Any, b: Any) -> str:
    if a is None or b is None:
        return "-"
    if b == 0:
        return "= (0 vs 0)" if a == 0 else "inf"
    return f"{a / b:.2f}x"


@dataclass(frozen=True)
class Row:
    name: str
    get: Callable[[dict[str, Any]], Any]
    digits: int = 1
    target: Callable[[Any, Any, Any], str] | None = None  # (zvk, zrle, nonap) -> verdict


def _updates_target(zvk: Any, zrle: Any, _nonap: Any) -> str:
    if zvk is None or zrle is None:
        return "-"
    ok = round(zvk, 1) >= round(UPDATES_TARGET * zrle, 1)  # at the precision shown
    return f">= {UPDATES_TARGET:.1f}x vs ZRLE: {'met' if ok else 'MISSED'}"


def _at_most(factor: float) -> Callable[[Any, Any, Any], str]:
    """The verdict of "zvkdiag <= factor x ZRLE" (bytes, CPU)."""

    def verdict(zvk: Any, zrle: Any, _nonap: Any) -> str:
        if zvk is None or zrle is None:
            return "-"
        ok = zvk <= factor * zrle
        return f"<= {factor}x vs ZRLE: {'met' if ok else 'MISSED'}"

    return verdict


def _latency_target(zvk: Any, _zrle: Any, nonap: Any) -> str:
    if zvk is None or not nonap:
        return "-"
    ok = zvk <= LATENCY_TARGET * nonap
    return f"<= {LATENCY_TARGET}x vs ZRLE -nonap: {'met' if ok else 'MISSED'}"


def _phase(name: str, key: str, scale: float = 1.0) -> Callable[[dict[str, Any]], Any]:
    def get(r: dict[str, Any]) -> Any:
        value = r["phases"].get(name, {}).get(key)
        return None if value is None else value / scale

    return get


def _get(key: str) -> Callable[[dict[str, Any]], Any]:
    return lambda r: r.get(key)


def rows() -> list[Row]:
    out: list[Row] = []
    per_phase, cpu = _at_most(PHASE_BYTES_TARGET), _at_most(CPU_TARGET)
    for name in PHASES[_chosen[0]]:
        out.append(Row(f"{name} KB/s", _phase(name, "bytes_per_s", 1000.0), 1, per_phase))
        out.append(Row(f"{name} updates/s", _phase(name, "updates_per_s"), 1, _updates_target))
        out.append(Row(f"{name} customer CPU %", _phase(name, "server_cpu_pct"), 1, cpu))
        if name == "c_scroll":
            out.append(Row("c_scroll updates < 5 KB (of them)", lambda r: r["scroll_fragments"], 0))
            out.append(Row("c_scroll steps shown (of 35)", _get("scroll_steps_shown"), 0))
            out.append(
                Row("c_scroll step -> last update, 3 lines ms", _get("scroll_final_ms_lines"))
            )
            out.append(Row("c_scroll step -> last update, PgDn ms", _get("scroll_final_ms_page")))
        if name in ("d_drag", "h_anim"):
            out.append(
                Row(f"{name} ticks shown (of {TICKS[name]})", _get(f"{name}_ticks_shown"), 0)
            )
            out.append(Row(f"{name} updates in those ticks", _get(f"{name}_tick_updates"), 0))
    out += [
        Row(
            "first frame KB",
            lambda r: (r.get("initial") or {}).get("bytes", 0) / 1000,
            1,
            _at_most(PHASE_BYTES_TARGET),
        ),
        Row(
            "total bytes MB (incl. first frame)",
            lambda r: r["client_bytes_total"] / 1e6,
            2,
            _at_most(BYTES_TARGET),
        ),
        Row(
            "keypress latency median ms", lambda r: r["probe_latency_median_ms"], 1, _latency_target
        ),
        Row("keypress latency p90 ms", lambda r: r["probe_latency_p90_ms"]),
        Row("key probes missed (of 20)", lambda r: r["probe_missed"], 0),
        Row("typing echo median ms (approx.)", lambda r: r["typing_latency_median_ms"]),
        Row("customer CPU s per s", lambda r: r["cpu_s_per_s"], 3, _at_most(CPU_TARGET)),
        Row("machine busy % (2 cores, all processes)", lambda r: r["machine_busy_pct"], 0),
    ]
    return out


def side_by_side(results: dict[str, list[dict[str, Any]]]) -> str:
    labels = [s.label for s in SIDES if results.get(s.label)]
    header = [f"metric (median of {max(len(v) for v in results.values())} run(s))", *labels]
    have = "zvkdiag" in labels and "zrle" in labels
    if have:
        header += ["zvkdiag / ZRLE", "zvkdiag / ZRLE -nonap", "target"]
    body = []
    for row in rows():
        med = {label: median_of(results[label], row.get) for label in labels}
        line = [row.name, *(_num(med[label], row.digits) for label in labels)]
        if have:
            zvk, zrle, nonap = med["zvkdiag"], med["zrle"], med.get("zrle-nonap")
            line += [_ratio(zvk, zrle), _ratio(zvk, nonap)]
            line.append(row.target(zvk, zrle, nonap) if row.target else "")
        body.append(line)
    return table(header, body)


def pixel_lines(zvk: list[dict[str, Any]]) -> list[str]:
    out = []
    for i, r in enumerate(zvk, 1):
        out.append(
            f"run {i}: streamed canvas == screen: {r.get('streamed_exact')} "
            f"(settled {r.get('streamed_settled')}, differing pixels {r.get('differing_pixels')}); "
            f"s.screenshot() == screen: {r.get('screenshot_exact')}; "
            f"frame bytes after start {r.get('frame_bytes_after_start')}, "
            f"engineer TCP bytes over the same time {r.get('tcp_bytes_received')}"
        )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--out", type=Path, help="result folder (default /tmp/zvk-screen-bench-TIME)")
    p.add_argument("--sides", default=",".join(s.label for s in SIDES), help="subset, for trials")
    p.add_argument("--reanalyze", type=Path, help="only analyse the runs in this result folder")
    p.add_argument(
        "--scenario",
        choices=sorted(PHASES),
        default="A",
        help="A: the harness's office mix; B: form, table, animation (screen_office.py)",
    )
    a = p.parse_args(argv)
    _chosen[0] = a.scenario
    harness = harness_dir()
    out = a.reanalyze or a.out or Path(f"/tmp/zvk-screen-bench-{time.strftime('%Y%m%d-%H%M%S')}")
    (out / "assets").mkdir(parents=True, exist_ok=True)
    chosen = [s for s in SIDES if s.label in a.sides.split(",")]
    print(f"machine: {machine()}; load average {loadavg()}; harness {harness}; out {out}")
    results: dict[str, list[dict[str, Any]]] = {s.label: [] for s in chosen}
    if a.reanalyze:
        for side in chosen:
            results[side.label] = [reanalyze(side, d, harness) for d in _rundirs(out, side)]
    else:
        for run in range(1, a.runs + 1):
            for side in chosen:
                results[side.label].append(run_side(side, run, out, harness))
    agg = subprocess.run(
        [PYTHON, str(harness / "analyze.py"), "aggregate"]
        + [str(f) for f in sorted(out.glob("run*/result.json"))]
        + ["--out", str(out / "summary.json")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    report = [
        f"machine: {machine()}",
        f"load average at the end: {loadavg()}",
        "",
        "analyze.py aggregate (the harness, unchanged):",
        agg,
        side_by_side(results),
        "",
        *pixel_lines(results.get("zvkdiag", [])),
    ]
    text = "\n".join(report)
    (out / "report.md").write_text(text + "\n")
    print(text)
    print(f"results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
