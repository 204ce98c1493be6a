"""The probe registry: an object with ``register``, ``get``, ``names`` and ``catalog``.

``DEFAULT_REGISTRY`` holds every probe of the catalog.  An unknown name
raises ``UnknownProbe`` with the closest names, so a typo in a notebook
gets a useful answer.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator

from zvkdiag._errors import UnknownProbe
from zvkdiag.probes.base import Probe, current_platform

__all__ = ["DEFAULT_REGISTRY", "ProbeRegistry"]


class ProbeRegistry:
    """Probe classes by name."""

    def __init__(self, probes: Iterable[type[Probe]] = ()) -> None:
        self._probes: dict[str, type[Probe]] = {}
        for probe in probes:
            self.register(probe)

    def register(self, probe: type[Probe]) -> type[Probe]:
        """Add ``probe``; usable as a class decorator.  A name may be taken only once."""
        if probe.name in self._probes:
            raise ValueError(f"a probe named {probe.name!r} is already registered")
        self._probes[probe.name] = probe
        return probe

    def get(self, name: str) -> type[Probe]:
        """The probe called ``name``, or ``UnknownProbe`` listing close names."""
        try:
            return self._probes[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._probes), n=3, cutoff=0.5)
            raise UnknownProbe(name, close) from None

    def names(self) -> list[str]:
        return sorted(self._probes)

    def defaults(self, platform: str | None = None) -> list[str]:
        """Names of the default set that apply to ``platform`` (this machine by default)."""
        where = platform or current_platform()
        return [n for n, p in sorted(self._probes.items()) if p.default and where in p.platforms]

    def catalog(self) -> list[dict[str, object]]:
        """Plain, JSON-ready descriptions of every probe (for ``Session.probes()``)."""
        return [self._probes[n].describe() for n in self.names()]

    def __iter__(self) -> Iterator[type[Probe]]:
        return iter(self._probes[n] for n in self.names())

    def __contains__(self, name: object) -> bool:
        return name in self._probes

    def __len__(self) -> int:
        return len(self._probes)


def _default_registry() -> ProbeRegistry:
    from zvkdiag.probes.connectivity import ConnectivityProbe
    from zvkdiag.probes.environment import EnvironmentProbe
    from zvkdiag.probes.eventlog import EventLogProbe
    from zvkdiag.probes.network import ConnectionsProbe, NetworkConfigProbe
    from zvkdiag.probes.printers import PrintersProbe
    from zvkdiag.probes.processes import ProcessesProbe, UsersSessionsProbe
    from zvkdiag.probes.security import SecurityPostureProbe
    from zvkdiag.probes.services import AutostartProbe, ServicesProbe
    from zvkdiag.probes.software import RebootPendingProbe, SoftwareProbe, UpdatesProbe
    from zvkdiag.probes.system import HardwareProbe, OsProbe, ResourcesProbe, StorageProbe
    from zvkdiag.probes.timesync import TimeSyncProbe

    return ProbeRegistry(
        [
            OsProbe,
            HardwareProbe,
            ResourcesProbe,
            StorageProbe,
            ProcessesProbe,
            ServicesProbe,
            SoftwareProbe,
            UpdatesProbe,
            RebootPendingProbe,
            NetworkConfigProbe,
            ConnectionsProbe,
            ConnectivityProbe,
            EventLogProbe,
            SecurityPostureProbe,
            UsersSessionsProbe,
            AutostartProbe,
            PrintersProbe,
            TimeSyncProbe,
            EnvironmentProbe,
        ]
    )


DEFAULT_REGISTRY = _default_registry()
