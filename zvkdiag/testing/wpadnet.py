"""A company network's WPAD in a box: a DNS server and the ``wpad.dat`` web server.

Run inside a network namespace a test made (``ip netns exec NS python -m
zvkdiag.testing.wpadnet --ip IP --name wpad.firma.test ... --pac FILE``): UDP
port 53 answers the A records of ``--name`` (all with ``--ip``) and "no such
name" for everything else; TCP port 80 serves ``--pac`` as ``/wpad.dat``. Each
query and request is printed as one line (``dns NAME TYPE``, ``http HOST
PATH``), so a test can tell which names a client asked for.
"""

from __future__ import annotations

import argparse
import http.server
import socket
import struct
import sys
import threading
from typing import Final

__all__ = ["answer", "main", "question"]

TYPE_NAMES: Final = {1: "A", 28: "AAAA"}
NXDOMAIN: Final = 3
_print_lock = threading.Lock()


def _say(line: str) -> None:
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def question(packet: bytes) -> tuple[str, int, int]:
    """The query's name, type and where its question section ends."""
    labels, pos = [], 12
    while packet[pos]:
        size = packet[pos]
        labels.append(packet[pos + 1 : pos + 1 + size].decode("ascii", "replace"))
        pos += 1 + size
    qtype = struct.unpack_from("!H", packet, pos + 1)[0]
    return ".".join(labels).lower(), qtype, pos + 5


def answer(packet: bytes, names: dict[str, str]) -> bytes:
    """The reply to ``packet``: an A record for a known name, else no data or no such name."""
    ident, flags = struct.unpack_from("!HH", packet)
    name, qtype, end = question(packet)
    records = b""
    rcode = 0 if name in names else NXDOMAIN
    if name in names and qtype == 1:
        ip = socket.inet_aton(names[name])
        records = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + ip
    head = struct.pack(
        "!HHHHHH", ident, 0x8400 | (flags & 0x0100) | rcode, 1, 1 if records else 0, 0, 0
    )
    return head + packet[12:end] + records


def _serve_dns(ip: str, names: dict[str, str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((ip, 53))
        _say("listening dns")
        while True:
            packet, peer = sock.recvfrom(4096)
            try:
                name, qtype, _ = question(packet)
                _say(f"dns {name} {TYPE_NAMES.get(qtype, qtype)}")
                sock.sendto(answer(packet, names), peer)
            except (IndexError, struct.error):
                continue


def _serve_http(ip: str, pac: bytes) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            _say(f"http {self.headers.get('Host', '')} {self.path}")
            if self.path != "/wpad.dat":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ns-proxy-autoconfig")
            self.send_header("Content-Length", str(len(pac)))
            self.end_headers()
            self.wfile.write(pac)

        def log_message(self, *args: object) -> None:
            pass

    return http.server.ThreadingHTTPServer((ip, 80), Handler)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ip", required=True)
    ap.add_argument("--name", action="append", default=[])
    ap.add_argument("--pac", required=True)
    args = ap.parse_args(argv)
    with open(args.pac, "rb") as f:
        pac = f.read()
    web = _serve_http(args.ip, pac)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    _say("listening http")
    _serve_dns(args.ip, {n.lower(): args.ip for n in args.name})
    return 0


if __name__ == "__main__":
    sys.exit(main())
