"""The real command-line programs: relay and quicksupport (console UI) as child processes."""

from __future__ import annotations

import socket
import threading
import time

import pytest

import zvkdiag
from zvkdiag.testing.procs import Proc


def _connect_in_thread(
    *args: object, **kwargs: object
) -> tuple[threading.Thread, dict[str, object]]:
    box: dict[str, object] = {}

    def go() -> None:
        try:
            box["session"] = zvkdiag.connect(*args, **kwargs)  # type: ignore[arg-type]
        except Exception as exc:
            box["error"] = exc

    t = threading.Thread(target=go)
    t.start()
    return t, box


def test_console_customer_through_relay_process(spawn: type[Proc], relay_process: str) -> None:
    cust = spawn("quicksupport", "--relay", relay_process, "--ui", "console", "--lang", "de")
    sid = cust.expect(r"^ID: (\d{3} \d{3} \d{3})$").group(1)
    pw = cust.expect(r"^Password: ([a-z2-9]{4}-[a-z2-9]{4})$").group(1)
    t, box = _connect_in_thread(sid, pw, relay=relay_process, engineer="Erika Muster")
    cust.expect("Erika Muster möchte eine Fernwartungssitzung")
    cust.expect(r"Erlauben\? \[y/n\]|Erlaubt|\(nicht verifiziert\)")
    cust.send("y")
    t.join(15)
    s = box["session"]
    assert isinstance(s, zvkdiag.Session)
    box2: dict[str, object] = {}
    t2 = threading.Thread(target=lambda: box2.setdefault("r", s.run(["echo", "hallo welt"])))
    t2.start()
    cust.expect("möchte diesen Befehl")
    cust.expect(r"echo 'hallo welt'")
    cust.send("y")
    t2.join(15)
    assert box2["r"].stdout == "hallo welt\n"  # type: ignore[attr-defined]
    t3 = threading.Thread(
        target=lambda: box2.setdefault("e", _catch(lambda: s.run(["rm", "-rf", "/tmp/x"])))
    )
    t3.start()
    cust.expect("rm -rf /tmp/x")
    cust.send("n")
    t3.join(15)
    assert isinstance(box2["e"], zvkdiag.ConsentDenied)
    s.close()
    new_pw = cust.expect(r"^Password: (\S+)$").group(1)
    assert new_pw != pw


def _catch(fn):  # type: ignore[no-untyped-def]
    try:
        return fn()
    except Exception as exc:
        return exc


def test_ctrl_c_ends_session_and_program(spawn: type[Proc], relay_process: str) -> None:
    import signal

    cust = spawn("quicksupport", "--relay", relay_process, "--ui", "console", "--lang", "en")
    sid = cust.expect(r"^ID: (.+)$").group(1)
    pw = cust.expect(r"^Password: (.+)$").group(1)
    t, box = _connect_in_thread(sid, pw, relay=relay_process, engineer="E")
    cust.expect(r"Allow\? \[y/n\]")
    cust.send("y")
    t.join(15)
    s = box["session"]
    assert isinstance(s, zvkdiag.Session)
    cust.proc.send_signal(signal.SIGINT)
    assert cust.proc.wait(5) == 0
    deadline = time.monotonic() + 5
    while not s.closed and time.monotonic() < deadline:
        time.sleep(0.02)
    with pytest.raises(zvkdiag.SessionClosed):
        s.run(["true"])
    s.close()


GARBAGE = [
    b"\x00" * 300,
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"ZVK1 OFFER 123",
    b"ZVK1 CONNECT 999999999\n",
    b"\xff" * 5000,
    b"ZVK1 OFFER\nZVK1 OFFER\n" + b"A" * 400,
]


def _blast(address: str, payload: bytes, *, linger: float = 0.2) -> bytes:
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        try:
            s.sendall(payload)
            time.sleep(linger)
            s.settimeout(1)
            return s.recv(1024)
        except OSError:
            return b""


def test_relay_survives_garbage_and_still_pairs(spawn: type[Proc], relay_process: str) -> None:
    for payload in GARBAGE:
        _blast(relay_process, payload)
    host, port = relay_process.rsplit(":", 1)
    stalled = socket.create_connection((host, int(port)))
    stalled.sendall(b"ZVK1 OFF")  # half a handshake, then silence
    cust = spawn("quicksupport", "--relay", relay_process, "--ui", "console")
    sid = cust.expect(r"^ID: (.+)$").group(1)
    pw = cust.expect(r"^Password: (.+)$").group(1)
    t, box = _connect_in_thread(sid, pw, relay=relay_process, engineer="E")
    cust.expect(r"\[y/n\]")
    cust.send("y")
    t.join(15)
    assert isinstance(box.get("session"), zvkdiag.Session), box
    box["session"].close()  # type: ignore[attr-defined]
    stalled.close()


def test_relay_answers_garbage_with_err() -> None:
    from zvkdiag.testing.fakes import RelayThread

    with RelayThread() as r:
        assert _blast(r.address, b"HELLO\n").startswith(b"ERR bad-request")
        assert _blast(r.address, b"A" * 300).startswith(b"ERR bad-request")
        assert _blast(r.address, b"ZVK1 CONNECT 123456789\n").startswith(b"ERR unknown-id")


def test_agent_listener_survives_garbage(spawn: type[Proc]) -> None:
    cust = spawn("quicksupport", "--listen", "127.0.0.1:0", "--ui", "console")
    address = cust.expect(r"^Listening: (\S+)$").group(1)
    sid = cust.expect(r"^ID: (.+)$").group(1)
    pw = cust.expect(r"^Password: (.+)$").group(1)
    for payload in GARBAGE[:3]:
        _blast(address, payload)
    time.sleep(0.3)
    # garbage is a failed try: the customer sees it, and after 3 the password changes
    pw = cust.expect(r"^Password: (.+)$").group(1)
    t, box = _connect_in_thread(sid, pw, direct=address, engineer="E")
    cust.expect(r"\[y/n\]")
    cust.send("y")
    t.join(15)
    assert isinstance(box.get("session"), zvkdiag.Session), box
    box["session"].close()  # type: ignore[attr-defined]
    assert any("Fehlgeschlagener Anmeldeversuch" in line for line in cust.seen)
