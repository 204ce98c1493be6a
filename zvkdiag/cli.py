"""``zvkdiag`` command line: relay, quicksupport, audit."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from zvkdiag._version import __version__
from zvkdiag.quicksupport.options import add_options

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="zvkdiag", description="Remote support with consent for every step."
    )
    p.add_argument("--version", action="version", version=f"zvkdiag {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("relay", help="pair customers and engineers by ID and copy bytes blindly")
    r.add_argument(
        "--listen", default=None, help="HOST:PORT for raw TCP (default 127.0.0.1:8340 without wss)"
    )
    r.add_argument("--listen-wss", default=None, help="HOST:PORT for WebSocket over TLS")
    r.add_argument("--max-offers", type=int, default=None, help="cap on waiting customers")
    r.add_argument(
        "--max-per-address", type=int, default=None, help="cap on connections per source address"
    )
    r.add_argument(
        "--metrics", metavar="HOST:PORT", help="serve Prometheus /metrics there (own address)"
    )
    r.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="json: one JSON object per finished pairing on stderr (IDs hashed, daily key)",
    )
    r.add_argument(
        "--blur-addresses", action="store_true", help="log client networks (/24, /48) only"
    )
    r.add_argument(
        "--pair-rate", type=_rate, default=0.0, help="bytes/s per pair, e.g. 4M (default: no cap)"
    )
    r.add_argument(
        "--total-rate", type=_rate, default=0.0, help="bytes/s over all pairs (default: no cap)"
    )
    r.add_argument(
        "--cert",
        help="certificate chain (PEM) for --listen-wss; without it, TLS on the --listen port; "
        "SIGHUP reloads",
    )
    r.add_argument("--key", help="private key (PEM, unencrypted) that goes with --cert")
    r.add_argument(
        "--reuse-port",
        action="store_true",
        help="SO_REUSEPORT: a successor may bind the same port while this relay drains",
    )
    r.add_argument(
        "--shard",
        type=int,
        choices=range(1, 10),
        metavar="N",
        help="hand out IDs starting with N (1-9); engineers find the relay by that digit",
    )
    r.add_argument(
        "--drain-timeout",
        type=float,
        default=None,
        help="seconds SIGTERM waits for live pairs before cutting them (default 8 h)",
    )

    q = sub.add_parser(
        "quicksupport", help="the customer's program: show ID and password, ask before every step"
    )
    add_options(q)

    ca = sub.add_parser("ca", help="the organisation's certificate authority for engineers")
    casub = ca.add_subparsers(dest="ca_command", required=True)
    ci = casub.add_parser("init", help="create the signing key in DIR")
    ci.add_argument("dir")
    cs = casub.add_parser("issue", help="certify an engineer's name (writes *-cert.pub)")
    cs.add_argument("--ca", required=True, help="the CA folder")
    cs.add_argument("--name", required=True, help="the engineer's name as customers see it")
    cs.add_argument("--days", type=int, default=30)
    cs.add_argument("--key", help="the engineer's public key (default: create a key pair here)")
    cr = casub.add_parser("revoke", help="revoke an engineer's key or certificate")
    cr.add_argument("--ca", required=True)
    cr.add_argument("file")

    a = sub.add_parser("audit", help="the customer's audit log")
    asub = a.add_subparsers(dest="audit_command", required=True)
    v = asub.add_parser("verify", help="check the hash chain of an audit log")
    v.add_argument("file")
    return p


def setup_logging(verbose: bool) -> None:
    """Log to stderr: INFO with ``-v``, else warnings only."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(message)s",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging(args.verbose)
    try:
        if args.command == "relay":
            return _relay(args)
        if args.command == "quicksupport":
            return _quicksupport(args)
        if args.command == "ca":
            return _ca(args)
        if args.command == "audit":
            from zvkdiag.consent.audit import audit_verify_main

            status: int = audit_verify_main([args.file])
            return status
    except KeyboardInterrupt:
        return 130
    return 2


def _ca(args: argparse.Namespace) -> int:
    from zvkdiag._errors import ZvkdiagError
    from zvkdiag.trust import ca

    try:
        if args.ca_command == "init":
            print(f"CA public key: {ca.init_ca(args.dir)}")
        elif args.ca_command == "issue":
            print(f"Certificate: {ca.issue(args.ca, args.name, days=args.days, key=args.key)}")
        else:
            print(f"Revoked: {ca.revoke(args.ca, args.file)}")
    except (ZvkdiagError, OSError) as exc:
        print(f"zvkdiag ca: {exc}", file=sys.stderr)
        return 1
    return 0


def _rate(text: str) -> float:
    """``2M`` -> 2_000_000 bytes/s (k, M, G are powers of 1000)."""
    units = {"k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}
    try:
        if text and text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a rate in bytes/s: {text!r}") from None


def _relay(args: argparse.Namespace) -> int:
    from zvkdiag._address import parse_address
    from zvkdiag._errors import ZvkdiagError
    from zvkdiag.relay.run import RelayOptions, serve
    from zvkdiag.relay.server import RelayConfig
    from zvkdiag.relay.tls import TlsFiles

    if bool(args.cert) != bool(args.key):
        print("zvkdiag relay: give both --cert and --key for TLS", file=sys.stderr)
        return 2
    if args.listen_wss and not args.cert:
        print("zvkdiag relay: --listen-wss needs --cert FILE and --key FILE", file=sys.stderr)
        return 2
    try:
        raw = parse_address(args.listen) if args.listen or not args.listen_wss else None
        wss = parse_address(args.listen_wss, 443) if args.listen_wss else None
        metrics = parse_address(args.metrics, 9340) if args.metrics else None
    except ZvkdiagError as exc:
        print(f"zvkdiag relay: {exc}", file=sys.stderr)
        return 2
    overrides = {
        k: v
        for k, v in (
            ("max_offers", args.max_offers),
            ("max_per_address", args.max_per_address),
            ("pair_rate", args.pair_rate),
            ("total_rate", args.total_rate),
            ("drain_timeout", args.drain_timeout),
            ("shard", args.shard),
        )
        if v
    }
    options = RelayOptions(
        raw,
        RelayConfig(**overrides),
        wss=wss,
        metrics=metrics,
        log_format=args.log_format,
        blur_addresses=args.blur_addresses,
        tls=TlsFiles(args.cert, args.key) if args.cert else None,
        reuse_port=args.reuse_port,
    )
    try:
        return asyncio.run(serve(options))
    except ZvkdiagError as exc:
        print(f"zvkdiag relay: {exc}", file=sys.stderr)
        return 1


def _quicksupport(args: argparse.Namespace) -> int:
    from zvkdiag.quicksupport.app import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
