"""Where the customer program's CPU goes, per phase of the screen scenario (py-spy).

Runs ``screen_bench.py --sides zvkdiag`` (scenario A unless ``--scenario B``)
and, for each phase of the run's ``events.jsonl`` as it is written, one
``py-spy record --format raw`` of the customer program (``python -m zvkdiag
quicksupport``), stopped with SIGINT at the phase's end.  For each phase it
prints the samples per thread and the functions with the most samples, self
(the innermost Python frame: numpy, zlib and the syscalls it makes count for
it) and inclusive, as % of one core (samples / rate / phase seconds).  py-spy
leaves out idle threads (asleep in ``select``, a lock or a GIL wait).

Run: ``.venv/bin/python bench/screen_profile.py [--scenario A|B] [--top 15]``
(needs ``py-spy`` in the venv: ``.venv/bin/pip install py-spy``).
"""

from __future__ import annotations

import argparse
import collections
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Final

from _common import PYTHON

PY_SPY: Final = Path(PYTHON).with_name("py-spy")
RATE: Final = 200
CUSTOMER: Final = "zvkdiag quicksupport"
# frames every sample of a thread has: left out of the inclusive list
OUTER_FILES: Final = "<frozen runpy> cli.py threading.py thread.py runners.py base_events.py"
OUTER: Final = tuple(f"({name})" for name in [*OUTER_FILES.split(" "), "__main__.py", "app.py"])
PHASES_OF: Final = {
    "A": ("a_idle", "b_typing", "c_scroll", "d_drag", "e_keyprobe"),
    "B": ("a_idle", "f_form", "g_table", "h_anim"),
}


def find_customer(parent: int, timeout: float) -> int:
    """The pid of the customer program among ``parent``'s descendants."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(
            ["pgrep", "-f", CUSTOMER], capture_output=True, text=True, check=False
        ).stdout
        for pid in map(int, out.split()):
            if _descends(pid, parent):
                return pid
        time.sleep(0.2)
    raise RuntimeError("the customer program did not start")


def _descends(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return False


def follow_phases(
    bench: subprocess.Popen[bytes], events: Path, customer: int, out: Path
) -> dict[str, float]:
    """One py-spy recording per phase while the bench runs; phase -> seconds recorded."""
    seen = 0
    spy: tuple[str, subprocess.Popen[bytes], float] | None = None
    recorded: dict[str, float] = {}
    while bench.poll() is None:
        lines = events.read_text().splitlines() if events.exists() else []
        for line in lines[seen:]:
            if not line.endswith("}"):
                break
            seen += 1
            event = json.loads(line)
            name = event.get("phase")
            if event.get("event") == "phase_end" and spy is not None and spy[0] == name:
                recorded[name] = _stop(spy)
                spy = None
            elif event.get("event") == "phase_start":
                if spy is not None:
                    recorded[spy[0]] = _stop(spy)
                cmd = [str(PY_SPY), "record", "-p", str(customer), "-f", "raw", "-t"]
                cmd += ["-o", str(out / f"{name}.txt"), "-r", str(RATE), "--nonblocking"]
                spy = (name, subprocess.Popen(cmd, stdout=subprocess.DEVNULL), time.monotonic())
        time.sleep(0.02)
    if spy is not None:
        recorded[spy[0]] = _stop(spy)
    return recorded


def _stop(spy: tuple[str, subprocess.Popen[bytes], float]) -> float:
    _, proc, started = spy
    seconds = time.monotonic() - started
    proc.send_signal(signal.SIGINT)
    proc.wait(30)
    return seconds


def report(raw: Path, seconds: float, top: int) -> str:
    """Threads and the functions with the most samples in one py-spy raw file."""
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        frames = [_short(f) for f in stack_text.split(";")]
        count = int(count_text)
        own[frames[-1]] += count
        for frame in set(frames[1:]):
            incl[frame] += count
        threads[_thread_of(frames)] += count
    scale = 100 / RATE / seconds
    lines = [f"  busy {sum(own.values()) * scale:.1f} % of a core over {seconds:.1f} s"]
    lines += [f"    thread {name}: {n * scale:.1f} %" for name, n in threads.most_common()]
    lines.append("    self (% of a core):")
    lines += [f"      {n * scale:5.2f}  {f}" for f, n in own.most_common(top)]
    lines.append("    inclusive (% of a core):")
    deep = [(f, n) for f, n in incl.most_common() if not f.endswith(OUTER)]
    lines += [f"      {n * scale:5.2f}  {f}" for f, n in deep[:top]]
    return "\n".join(lines)


def _short(frame: str) -> str:
    """``name (path/file.py:123)`` -> ``name (file.py)``."""
    name, _, where = frame.partition(" (")
    return f"{name} ({Path(where.rsplit(':', 1)[0]).name})" if where else name


def _thread_of(frames: list[str]) -> str:
    text = " ".join(frames)
    if "_produce" in text:
        return "capture worker"
    if "_run_once" in text:
        return "event loop"
    return "other: " + (frames[-1] if len(frames) < 3 else frames[2])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scenario", choices=sorted(PHASES_OF), default="A")
    p.add_argument("--top", type=int, default=15)
    p.add_argument("--out", type=Path, default=Path(f"/tmp/zvk-screen-profile-{time.time():.0f}"))
    a = p.parse_args()
    script = str(Path(__file__).with_name("screen_bench.py"))
    bench = subprocess.Popen(
        [PYTHON, script, "--sides", "zvkdiag", "--scenario", a.scenario, "--out", str(a.out)]
    )
    customer = find_customer(bench.pid, 120)
    events = a.out / "run1_zvkdiag" / "events.jsonl"
    recorded = follow_phases(bench, events, customer, a.out)
    for name in PHASES_OF[a.scenario]:
        if name in recorded:
            print(f"phase {name}")
            print(report(a.out / f"{name}.txt", recorded[name], a.top))
    return bench.returncode or 0


if __name__ == "__main__":
    sys.exit(main())
