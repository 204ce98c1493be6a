"""Take the screenshots of docs/customer-guide.md on a fresh Xvfb screen.

Run from the repository root::

    .venv/bin/python docs/screenshots/make_screenshots.py [--lang de|en] [--out docs/screenshots]

It starts its own Xvfb (1024x768), shows the real Tk UI with example data
(the agent is a fake loop thread that sends the same events the real agent
sends), and writes main-window, consent-dialog, indicator and overview PNGs.
Nothing is drawn by hand: re-run it after changing the UI.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tkinter as tk
from pathlib import Path

import mss
import mss.tools

from zvkdiag.consent.model import CodeIssued, ConsentRequest, EngineerMessage, Scope, SessionStarted
from zvkdiag.consent.tk_ui import TkUI
from zvkdiag.testing.fakes_ui import AgentLoopThread, RecordingControl
from zvkdiag.testing.xvfb import XServer, xvfb

ENGINEER = "Erika Muster"
PROBES = [
    {
        "name": "os",
        "title_de": "Betriebssystem",
        "title_en": "Operating system",
        "description_de": "Windows-Version, Build, Sprache und letzte Updates",
        "description_en": "Windows version, build, language and recent updates",
    },
    {
        "name": "storage",
        "title_de": "Festplatten",
        "title_en": "Disks",
        "description_de": "Laufwerke mit Größe und freiem Platz (keine Dateinamen)",
        "description_en": "Drives with size and free space (no file names)",
    },
]


def pump(ui: TkUI, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ui.root.update()
        time.sleep(0.01)


def save(screen: XServer, widget: tk.Misc, path: Path, *, margin: int = 0) -> None:
    widget.update_idletasks()
    box = {
        "left": max(0, widget.winfo_rootx() - margin),
        "top": max(0, widget.winfo_rooty() - margin),
        "width": widget.winfo_width() + 2 * margin,
        "height": widget.winfo_height() + 2 * margin,
    }
    box["width"] = min(box["width"], screen.width - box["left"])
    box["height"] = min(box["height"], screen.height - box["top"])
    with mss.MSS(display=screen.display) as grabber:
        shot = grabber.grab(box)
    mss.tools.to_png(shot.rgb, shot.size, output=str(path))
    print(f"wrote {path} ({shot.width}x{shot.height})")


def take(lang: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    suffix = "" if lang == "de" else f"-{lang}"
    with (
        xvfb(width=1024, height=768) as screen,
        AgentLoopThread() as agent,
        tempfile.TemporaryDirectory() as scratch,
    ):
        ui = TkUI(
            lang,
            RecordingControl(),
            audit_path=Path(scratch) / "audit.jsonl",
            screen_name=screen.display,
        )
        ui.root.configure(cursor="none")
        agent.call(lambda: ui.show(CodeIssued("482913657", "k7mp3qaz")))
        pump(ui, 0.5)
        save(screen, ui.root, out / f"main-window{suffix}.png")

        agent.call(lambda: ui.show(SessionStarted(ENGINEER, engineer_verified=True)))
        message = "Ich schaue mir jetzt Ihre Festplatte an."
        agent.call(lambda: ui.show(EngineerMessage(message)))
        request = ConsentRequest(Scope.PROBE, ENGINEER, True, {"probes": PROBES})
        answer = agent.submit(ui.ask(request, timeout=60))
        pump(ui, 0.8)
        assert ui.dialog is not None
        save(screen, ui.dialog.window, out / f"consent-dialog{suffix}.png")
        save(screen, ui.indicator.window, out / f"indicator{suffix}.png", margin=8)
        with mss.MSS(display=screen.display) as grabber:
            shot = grabber.grab(grabber.monitors[0])
        mss.tools.to_png(shot.rgb, shot.size, output=str(out / f"overview{suffix}.png"))
        print(f"wrote {out / f'overview{suffix}.png'}")
        ui.close()
        answer.result(timeout=5)
        ui.destroy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lang", choices=("de", "en"), default="de")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    take(args.lang, args.out)


if __name__ == "__main__":
    main()
