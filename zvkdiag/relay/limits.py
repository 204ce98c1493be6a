"""The relay's limits as pure state: failed-try backoff, wrong-ID lookups, token buckets.

No sockets and no sleeps: every class takes a clock and answers "how long
must this wait", so the I/O layer (``server.py``) can refuse at once with the
number of seconds, and the tests can drive the schedules with a fake clock.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "ADDRESS_ALLOWANCE",
    "BACKOFF_BASE",
    "BACKOFF_FORGET",
    "BACKOFF_MAX",
    "LOOKUP_BURST",
    "LOOKUP_RATE",
    "RESUME_BURST",
    "RESUME_RATE",
    "AddressLimiter",
    "FailureBackoff",
    "LookupLimiter",
    "ResumeLimiter",
    "TokenBucket",
]

BACKOFF_BASE: Final = 1.0
BACKOFF_MAX: Final = 60.0
BACKOFF_FORGET: Final = 600.0
ADDRESS_ALLOWANCE: Final = 10
LOOKUP_BURST: Final = 20.0
LOOKUP_RATE: Final = 0.2  # one wrong ID per 5 s after the burst: walking 10^9 IDs is hopeless
RESUME_BURST: Final = 60.0  # a whole office behind one NAT whose line dropped at once
RESUME_RATE: Final = 1.0  # every waiting try holds a slot for RESUME_WAIT: churn stays slow
_MAX_TRACKED: Final = 100_000


def _schedule(base: float, n: int) -> float:
    return float(min(base * 2 ** (n - 1), BACKOFF_MAX)) if n > 0 else 0.0


@dataclass
class _Record:
    count: int
    last: float


def _bump(table: dict[Hashable, _Record], key: Hashable, now: float) -> None:
    rec = table.get(key)
    if rec is None or now - rec.last > BACKOFF_FORGET:
        rec = table[key] = _Record(0, now)
    rec.count += 1
    rec.last = now
    if len(table) > _MAX_TRACKED:  # bounded: forget the oldest half
        for old, _ in sorted(table.items(), key=lambda kv: kv[1].last)[: _MAX_TRACKED // 2]:
            del table[old]


@dataclass
class FailureBackoff:
    """Holds back tries after failed ones, per (address, target ID) and per address.

    The relay cannot read the PAKE, but a pairing that ends before SSH could
    have started is a failed or aborted try.  After the n-th such try for one
    ID from one address (within ``BACKOFF_FORGET`` s of the previous one), the
    next try for that ID from that address may start ``base * 2**(n-1)`` s
    after the failure, at most ``BACKOFF_MAX``.  Colleagues behind the same
    address who connect to *other* IDs are not held back, until the address
    as a whole has more than ``address_allowance`` failures: from then on
    every try from it waits ``base * 2**(total - allowance - 1)`` s, which is
    what slows a guesser who spreads tries over many IDs.
    """

    clock: Callable[[], float] = time.monotonic
    base: float = BACKOFF_BASE
    address_allowance: int = ADDRESS_ALLOWANCE
    _pairs: dict[Hashable, _Record] = field(default_factory=dict)
    _addresses: dict[Hashable, _Record] = field(default_factory=dict)

    def failed(self, address: str, target: str) -> None:
        now = self.clock()
        _bump(self._pairs, (address, target), now)
        _bump(self._addresses, address, now)

    def succeeded(self, address: str, target: str) -> None:
        self._pairs.pop((address, target), None)

    def wait(self, address: str, target: str) -> float:
        """Seconds until a try for ``target`` from ``address`` may start (0: now)."""
        now = self.clock()
        return max(
            self._remaining(self._pairs.get((address, target)), now, 0),
            self._remaining(self._addresses.get(address), now, self.address_allowance),
        )

    def _remaining(self, rec: _Record | None, now: float, allowance: int) -> float:
        if rec is None or now - rec.last > BACKOFF_FORGET:
            return 0.0
        delay = _schedule(self.base, rec.count - allowance)
        return max(0.0, rec.last + delay - now)


@dataclass
class TokenBucket:
    """``rate`` units per second, up to ``burst`` saved; ``take`` may go into debt."""

    rate: float
    burst: float
    clock: Callable[[], float] = time.monotonic
    level: float = field(init=False)
    stamp: float = field(init=False)

    def __post_init__(self) -> None:
        self.level, self.stamp = self.burst, self.clock()

    def _refill(self) -> None:
        now = self.clock()
        self.level = min(self.burst, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def take(self, amount: float) -> float:
        """Spend ``amount``; return the seconds until the debt, if any, is paid off."""
        self._refill()
        self.level -= amount
        return 0.0 if self.level >= 0 else -self.level / self.rate

    def wait(self, amount: float = 1.0) -> float:
        """Seconds until ``amount`` could be spent without debt (nothing is spent)."""
        self._refill()
        return 0.0 if self.level >= amount else (amount - self.level) / self.rate

    @property
    def full(self) -> bool:
        self._refill()
        return self.level >= self.burst


@dataclass
class LookupLimiter:
    """Rate-limits CONNECTs to IDs nobody holds, per source address (a token bucket each)."""

    clock: Callable[[], float] = time.monotonic
    rate: float = LOOKUP_RATE
    burst: float = LOOKUP_BURST
    _buckets: dict[str, TokenBucket] = field(default_factory=dict)

    def wait(self, address: str) -> float:
        """Seconds until ``address`` may look up an ID again (0: now)."""
        bucket = self._buckets.get(address)
        return 0.0 if bucket is None else bucket.wait()

    def wrong(self, address: str) -> None:
        """``address`` asked for an ID nobody holds (spends one token)."""
        bucket = self._buckets.get(address)
        if bucket is None:
            if len(self._buckets) >= _MAX_TRACKED:
                self._buckets = {a: b for a, b in self._buckets.items() if not b.full}
            bucket = self._buckets[address] = TokenBucket(self.rate, self.burst, self.clock)
        bucket.take(1.0)


@dataclass
class AddressLimiter:
    """Caps concurrent connections per source address."""

    limit: int
    _count: Counter[str] = field(default_factory=Counter)

    def acquire(self, address: str) -> bool:
        if self._count[address] >= self.limit:
            return False
        self._count[address] += 1
        return True

    def release(self, address: str) -> None:
        self._count[address] -= 1
        if self._count[address] <= 0:
            del self._count[address]


@dataclass
class ResumeLimiter(LookupLimiter):
    """Rate-limits ``ZVK1 RESUME`` tries per source address (a token bucket each).

    Every try is spent, paired or not: the relay cannot tell a guessed token
    from a real one until the other side comes, and a try that waits holds a
    slot for up to ``RESUME_WAIT``.  A real resumption is two tries, usually
    from two addresses, and the client retries a refused one after a pause.
    """

    rate: float = RESUME_RATE
    burst: float = RESUME_BURST

    def tried(self, address: str) -> None:
        """``address`` sent a ``RESUME``."""
        self.wrong(address)
