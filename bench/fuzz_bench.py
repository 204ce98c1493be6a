"""Mutation fuzzing of every network parser: 100,000 inputs per parser, counts, time, memory.

The targets, seeds and the havoc mutator are the regular suite's
(``tests/fuzz/targets.py``); this script only runs many more inputs.  80% of
the inputs are 1-4 mutations of a valid message (bit flips, interesting bytes,
insertions, deletions, repeated slices, truncation, splices of two messages),
20% raw random bytes of 0-600 bytes.  A crash (an exception outside the
zvkdiag hierarchy) is printed with its input and counted; a known, reported bug
is counted on its own.  Max RSS is this process's peak after each target.

Run: ``.venv/bin/python bench/fuzz_bench.py [-n 100000] [--seed 1]``
"""

from __future__ import annotations

import argparse
import collections
import random
import resource
import sys
import time
from pathlib import Path

from _common import machine, table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.fuzz.targets import TARGETS, Target, UnexpectedError, mutate, run

COMMAND = ".venv/bin/python bench/fuzz_bench.py"


def _inputs(target: Target, n: int, rng: random.Random) -> collections.abc.Iterator[bytes]:
    seeds = list(target.seeds())
    for _ in range(n):
        if rng.random() < 0.8:
            yield mutate(rng.choice(seeds), rng, seeds)
        else:
            yield rng.randbytes(rng.randint(0, 600))


def fuzz(target: Target, n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    outcomes: collections.Counter[str] = collections.Counter()
    crashes = 0
    start = time.perf_counter()
    for data in _inputs(target, n, rng):
        try:
            outcomes[run(target, data)] += 1
        except UnexpectedError as exc:
            crashes += 1
            if crashes <= 3:
                print(f"CRASH {exc} input={data[:120]!r}", file=sys.stderr)
    elapsed = time.perf_counter() - start
    accepted = sum(v for k, v in outcomes.items() if not k.startswith("raised"))
    known = sum(v for k, v in outcomes.items() if "known bug" in k)
    errors = collections.Counter(
        {k.removeprefix("raised "): v for k, v in outcomes.items() if k.startswith("raised")}
    )
    top = ", ".join(f"{k} {v:,}" for k, v in errors.most_common(3))
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return [
        target.name,
        target.side,
        f"{n:,}",
        f"{elapsed:.1f}",
        f"{n / elapsed:,.0f}",
        f"{accepted:,}",
        top,
        str(crashes),
        str(known),
        f"{max_rss:.0f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100_000, help="inputs per parser")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"{COMMAND} -n {args.n} --seed {args.seed}  ({machine()})\n")
    rows = [fuzz(t, args.n, args.seed) for t in TARGETS]
    header = [
        "parser",
        "side",
        "inputs",
        "s",
        "inputs/s",
        "accepted",
        "clear errors (top 3)",
        "crashes",
        "known bug",
        "max RSS MiB",
    ]
    print(table(header, rows))


if __name__ == "__main__":
    main()
