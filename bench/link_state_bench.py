"""What the engineer sees of a dropped connection, and how soon.

A real relay process, agent (AutoConsent) and engineer in this process, both
reaching the relay through a ``CuttableLink``. Each round: a ``Session.run``
is started, the link is cut (every connection reset) so the call waits, the
link stays down for --down seconds, then is restored. Timed from the cut to
``Session.connection`` turning ``interrupted`` (what the widgets show), and
from the restore to it turning ``connected`` again, beside the peer in the same
round: the restore to the waiting call's completion (what the engineer's cell
gets). The badge should clear no later than the call completes.

Run: ``.venv/bin/python bench/link_state_bench.py [--rounds 5] [--down 2]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time

from resume_bench import cut_session  # same folder

import zvkdiag
from zvkdiag.engineer.link import LinkState
from zvkdiag.testing.cut import CuttableLink

Round = tuple[float, float, float]  # cut -> interrupted, back -> connected, back -> call done


def rounds(count: int, down: float) -> list[Round]:
    with cut_session() as (s, link):
        return [_round(s, link, down) for _ in range(count)]


def _round(s: zvkdiag.Session, link: CuttableLink, down: float) -> Round:
    changed: dict[str, float] = {}
    event = threading.Condition()

    def seen(state: LinkState) -> None:
        with event:
            changed[state.phase] = time.monotonic()
            event.notify_all()

    unsubscribe = s.subscribe(seen)
    s.run(["true"])  # the session is warm
    done: list[float] = []
    cut = time.monotonic()
    link.cut()
    call = threading.Thread(target=lambda: (s.run(["echo", "x"]), done.append(time.monotonic())))
    call.start()
    with event:
        event.wait_for(lambda: "interrupted" in changed, 30)
    time.sleep(down)
    back = time.monotonic()
    link.restore()
    with event:
        event.wait_for(lambda: "connected" in changed, 30)
    call.join(30)
    unsubscribe()
    return changed["interrupted"] - cut, changed["connected"] - back, done[0] - back


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--down", type=float, default=2.0)
    args = parser.parse_args()
    got = rounds(args.rounds, args.down)
    to_badge, to_clear, to_call = (statistics.median(col) for col in zip(*got, strict=True))
    print(f"{args.rounds} cuts of {args.down:g} s, medians:")
    print(f"  cut -> session.connection interrupted   {to_badge * 1000:7.0f} ms")
    print(f"  back -> session.connection connected    {to_clear * 1000:7.0f} ms")
    print(f"  back -> call made during the cut done   {to_call * 1000:7.0f} ms")
    print(f"  badge cleared / call done               x{to_clear / to_call:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
