"""Network probes: network_config (addresses, gateways, DNS servers) and connections."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final

import psutil
from psutil._ntuples import snicstats

from zvkdiag.probes.base import Probe, ProbeContext, Record, schema
from zvkdiag.probes.winformats import powershell_json, text_or_none

__all__ = [
    "ConnectionsProbe",
    "NetworkConfigProbe",
    "adapters_from_cim",
    "parse_proc_net_route",
    "parse_resolv_conf",
]

ALL = frozenset({"linux", "windows", "darwin"})
_ADAPTERS_PS: Final = (
    "Get-CimInstance Win32_NetworkAdapterConfiguration -Filter 'IPEnabled=True' | "
    "Select-Object Description,InterfaceIndex,DHCPEnabled,DefaultIPGateway,"
    "DNSServerSearchOrder,DNSDomain | ConvertTo-Json -Depth 3"
)
_FAMILIES: Final = {socket.AF_INET: "ipv4", socket.AF_INET6: "ipv6", psutil.AF_LINK: "mac"}


def parse_resolv_conf(text: str) -> list[str]:
    """Name servers listed in ``/etc/resolv.conf``."""
    servers = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            servers.append(parts[1])
    return servers


def parse_proc_net_route(text: str) -> list[tuple[str, str]]:
    """Default IPv4 gateways from ``/proc/net/route`` as (interface, address) pairs."""
    found = []
    for line in text.splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 3 and cols[1] == "00000000" and cols[2] != "00000000":
            gateway = socket.inet_ntoa(struct.pack("<I", int(cols[2], 16)))
            found.append((cols[0], gateway))
    return found


def adapters_from_cim(items: list[Mapping[str, object]]) -> Iterator[Record]:
    """Gateway and DNS rows from ``Win32_NetworkAdapterConfiguration`` JSON."""
    for item in items:
        iface = text_or_none(item.get("Description"))
        dhcp = item.get("DHCPEnabled")
        for kind, field in (
            ("gateway", "DefaultIPGateway"),
            ("dns_server", "DNSServerSearchOrder"),
        ):
            for address in _as_text_list(item.get(field)):
                yield _row(kind, iface, address, dhcp=dhcp if isinstance(dhcp, bool) else None)


def _as_text_list(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value if v]
    return []


def _row(
    kind: str,
    iface: str | None,
    address: str,
    *,
    netmask: str | None = None,
    dhcp: bool | None = None,
    stats: snicstats | None = None,
) -> Record:
    return {
        "kind": kind,
        "interface": iface,
        "family": "ipv6"
        if ":" in address and kind != "mac"
        else ("mac" if kind == "mac" else "ipv4"),
        "address": address,
        "netmask": netmask,
        "dhcp": dhcp,
        "is_up": stats.isup if stats else None,
        "mtu": stats.mtu if stats else None,
        "speed_mbps": stats.speed if stats and stats.speed else None,
    }


class NetworkConfigProbe(Probe):
    name = "network_config"
    title_de = "Netzwerkeinstellungen"
    title_en = "Network settings"
    description_de = (
        "Netzwerkadapter mit ihren Adressen, Standard-Gateway und DNS-Servern, "
        "ob sie verbunden sind und wie schnell."
    )
    description_en = (
        "Network adapters with their addresses, default gateway and DNS servers, whether they "
        "are connected and how fast."
    )
    platforms = ALL
    columns = schema(
        kind="category",
        interface="string",
        family="category",
        address="string",
        netmask="string",
        dhcp="boolean",
        is_up="boolean",
        mtu="Int64",
        speed_mbps="Int64",
    )
    never_collect = ("Wi-Fi passwords and keys", "VPN credentials", "browsing history")
    timeout = 15.0

    def collect(self, ctx: ProbeContext) -> Iterator[Record]:
        stats = psutil.net_if_stats()
        for iface, addrs in psutil.net_if_addrs().items():
            for addr in addrs:
                kind = "mac" if addr.family == psutil.AF_LINK else "address"
                if addr.family in _FAMILIES:
                    row = _row(
                        kind, iface, addr.address, netmask=addr.netmask, stats=stats.get(iface)
                    )
                    row["family"] = _FAMILIES[addr.family]
                    yield row
        if ctx.platform == "windows":
            yield from adapters_from_cim(powershell_json(ctx, _ADAPTERS_PS))
        else:
            yield from self._posix_routes_dns(ctx)

    def _posix_routes_dns(self, ctx: ProbeContext) -> Iterator[Record]:
        if ctx.platform == "linux":
            with ctx.attempt("/proc/net/route"):
                route = Path("/proc/net/route").read_text(encoding="utf-8")
                for iface, gateway in parse_proc_net_route(route):
                    yield _row("gateway", iface, gateway)
        with ctx.attempt("/etc/resolv.conf"):
            for server in parse_resolv_conf(Path("/etc/resolv.conf").read_text(encoding="utf-8")):
                yield _row("dns_server", None, server)


class ConnectionsProbe(Probe):
    name = "connections"
    title_de = "Netzwerkverbindungen"
    title_en = "Network connections"
    description_de = (
        "Welche Programme gerade mit welchen Adressen im Netz verbunden sind "
        "oder auf Verbindungen warten."
    )
    description_en = (
        "Which programs are connected to which network addresses right now, or are waiting "
        "for connections."
    )
    platforms = frozenset({"linux", "windows"})  # macOS needs root for other users' sockets
    columns = schema(
        protocol="category",
        family="category",
        local_address="string",
        local_port="Int64",
        remote_address="string",
        remote_port="Int64",
        status="category",
        pid="Int64",
        process_name="string",
    )
    never_collect = ("data sent over connections", "URLs or host names visited")
    timeout = 10.0

    def collect(self, ctx: ProbeContext) -> Iterator[Record]:
        names: dict[int, str | None] = {}
        for conn in psutil.net_connections(kind="inet"):
            if conn.pid is not None and conn.pid not in names:
                names[conn.pid] = _process_name(conn.pid)
            yield {
                "protocol": "tcp" if conn.type == socket.SOCK_STREAM else "udp",
                "family": "ipv6" if conn.family == socket.AF_INET6 else "ipv4",
                "local_address": conn.laddr.ip if conn.laddr else None,
                "local_port": conn.laddr.port if conn.laddr else None,
                "remote_address": conn.raddr.ip if conn.raddr else None,
                "remote_port": conn.raddr.port if conn.raddr else None,
                "status": conn.status if conn.status != psutil.CONN_NONE else None,
                "pid": conn.pid,
                "process_name": names.get(conn.pid) if conn.pid is not None else None,
            }


def _process_name(pid: int) -> str | None:
    try:
        return psutil.Process(pid).name() or None
    except psutil.Error:
        return None
