"""Two encoders on the same recorded frames: scenario B once, replayed through each tree.

The live benchmark (``screen_bench.py``) compares against x11vnc, but two of
its runs never see the same frames (Tk's timers and the grabs drift with the
load).  This one records scenario B (``screen_office.py``) once, at 25 grabs
a second, as three tile-aligned crops (form, table, spinner) and the first
full screen, then feeds the same frames to ``FrameEncoder`` of each tree
given (a worktree of ``main`` beside this one, say) and reports each phase's
bytes and their ratio to the first tree.  Every replay decodes its frames
with that tree's ``Canvas`` and checks the last picture pixel for pixel.

Run: ``.venv/bin/python bench/screen_replay.py --trees /work/main . [--frames DIR]``
(Xvfb only, no network).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Final

import numpy as np
from _common import PYTHON, table

OFFICE: Final = Path(__file__).with_name("screen_office.py")
GRAB_PERIOD: Final = 0.04
CROPS: Final = {  # x0, y0, x1, y1: tile-aligned, around each window of screen_office_app.py
    "form": (0, 0, 704, 448),
    "table": (640, 0, 1344, 512),
    "anim": (1344, 448, 1728, 832),
}
FRAME_HEADER: Final = 26  # frames.py v1: header, and per tile
TILE_HEADER: Final = 13


def record(folder: Path) -> None:
    """Scenario B on a fresh Xvfb; crops whenever they changed, at most every 40 ms."""
    import mss  # only the recording needs a screen

    from zvkdiag.testing.xvfb import xvfb

    folder.mkdir(parents=True, exist_ok=True)
    with xvfb() as x:
        env = x.env()
        os.environ["DISPLAY"] = x.display
        subprocess.run([PYTHON, OFFICE, "setup", "--workdir", folder], env=env, check=True)
        try:
            with mss.MSS() as grabber:
                np.save(folder / "first.npy", np.array(grabber.grab(grabber.monitors[1])))
                run = [PYTHON, OFFICE, "run", "--log", folder / "events.jsonl"]
                scenario = subprocess.Popen(run, env=env)
                crops = _grab_while(scenario, grabber)
        finally:
            subprocess.run([PYTHON, OFFICE, "teardown", "--workdir", folder], env=env)
    for name, frames in crops.items():
        times = np.array([t for t, _ in frames])
        np.savez_compressed(folder / f"{name}.npz", t=times, px=np.stack([p for _, p in frames]))


def _grab_while(scenario: subprocess.Popen[bytes], grabber: Any) -> dict[str, list[Any]]:
    crops: dict[str, list[Any]] = {name: [] for name in CROPS}
    due = time.time()
    while scenario.poll() is None:
        shot = np.array(grabber.grab(grabber.monitors[1]))
        now = time.time()
        for name, (x0, y0, x1, y1) in CROPS.items():
            crop = shot[y0:y1, x0:x1]
            if not crops[name] or not np.array_equal(crop, crops[name][-1][1]):
                crops[name].append((now, crop.copy()))
        due += GRAB_PERIOD
        time.sleep(max(0.0, due - time.time()))
    return crops


def replay(folder: Path) -> dict[str, Any]:
    """Bytes per phase of the importable zvkdiag's encoder on the recorded frames."""
    from zvkdiag.screen.encoder import FrameEncoder  # the tree's own, by PYTHONPATH
    from zvkdiag.screen.frames import Frame, decode_frame, encode_frame
    from zvkdiag.screen.reassemble import Canvas

    phases = _phases(folder / "events.jsonl")
    first = np.load(folder / "first.npy")
    tiles = FrameEncoder().encode(first, now=0.0, keyframe=True)
    out: dict[str, Any] = {"first frame": _frame_bytes(tiles), "exact": True}
    encode_s, decode_s, frames = 0.0, 0.0, 0
    for name in CROPS:
        recorded = np.load(folder / f"{name}.npz")
        encoder, canvas = FrameEncoder(), Canvas()
        for seq, (at, pixels) in enumerate(zip(recorded["t"], recorded["px"], strict=True), 1):
            started = time.perf_counter()
            tiles = encoder.encode(pixels, now=float(at), keyframe=seq == 1)
            frame = Frame(seq, pixels.shape[1], pixels.shape[0], float(at), seq == 1, tuple(tiles))
            blob = encode_frame(frame)
            encoded = time.perf_counter()
            canvas.apply(decode_frame(blob))
            encode_s += encoded - started
            decode_s += time.perf_counter() - encoded
            frames += 1
            phase = _phase_at(phases, float(at))
            if tiles and seq > 1 and phase:
                out[phase] = out.get(phase, 0) + _frame_bytes(tiles)
        out["exact"] &= bool(np.array_equal(canvas.pixels()[..., :3], pixels[..., :3]))
    for phase, (start, end) in phases.items():
        out[phase] = out.get(phase, 0) / (end - start)
    out["encode ms a frame"] = encode_s / frames * 1e6  # shown /1000, as the bytes
    out["decode ms a frame"] = decode_s / frames * 1e6
    return out


def _frame_bytes(tiles: list[Any]) -> int:
    return FRAME_HEADER + sum(TILE_HEADER + len(t.payload) for t in tiles)


def _phases(log: Path) -> dict[str, tuple[float, float]]:
    starts: dict[str, float] = {}
    spans: dict[str, tuple[float, float]] = {}
    for line in log.read_text().splitlines():
        event = json.loads(line)
        if event["event"] == "phase_start":
            starts[event["phase"]] = event["t"]
        elif event["event"] == "phase_end":
            spans[event["phase"]] = (starts[event["phase"]], event["t"])
    return spans


def _phase_at(phases: dict[str, tuple[float, float]], at: float) -> str | None:
    return next((name for name, (a, b) in phases.items() if a <= at < b), None)


def compare(trees: list[Path], folder: Path) -> str:
    results = []
    for tree in trees:
        env = {**os.environ, "PYTHONPATH": str(tree.resolve())}
        cmd = [PYTHON, __file__, "--replay", str(folder)]
        results.append(
            json.loads(subprocess.run(cmd, env=env, check=True, capture_output=True).stdout)
        )
    rows = []
    for key in results[0]:
        if key == "exact":
            rows.append([key, *(str(r[key]) for r in results), ""])
            continue
        unit = key if " ms " in key else "first frame KB" if key == "first frame" else f"{key} KB/s"
        values = [r[key] / 1000 for r in results]  # bytes to KB, microseconds to ms
        ratios = " ".join(f"{v / values[0]:.2f}x" if values[0] else "-" for v in values[1:])
        rows.append([unit, *(f"{v:.2f}" for v in values), ratios])
    return table(["metric", *(str(t) for t in trees), "ratio to the first"], rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--trees", nargs="+", type=Path, default=[Path(".")])
    p.add_argument("--frames", type=Path, help="recorded frames (default: record them now)")
    p.add_argument("--replay", type=Path, help=argparse.SUPPRESS)  # one tree, JSON out
    a = p.parse_args()
    if a.replay:
        print(json.dumps(replay(a.replay)))
        return
    folder = a.frames or Path(f"/tmp/zvk-screen-replay-{time.strftime('%Y%m%d-%H%M%S')}")
    if not (folder / "first.npy").exists():
        record(folder)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"frames {folder}; load average {load}")
    print(compare(a.trees, folder))


if __name__ == "__main__":
    sys.exit(main())
