"""A second person at the X display: input from a device that is not zvkdiag's.

Xvfb has no real mouse, and ``xdotool`` injects through the same virtual core
XTEST devices that zvkdiag uses, so neither can play "the customer moves their
own mouse".  ``CustomerDevice`` adds an XInput 2 master device (which brings its
own XTEST pointer and keyboard), makes it this connection's client pointer and
injects through it: the server then reports that input with a source device
of its own, exactly as it reports a real customer's USB mouse.

This is an honest fake of the *customer's hand*, not of any zvkdiag part.
"""

from __future__ import annotations

import struct
from types import TracebackType
from typing import Self

from Xlib import X, display
from Xlib.ext import xinput, xtest
from Xlib.protocol import rq

__all__ = ["CustomerDevice"]

_ADD_MASTER = 1


class _ChangeHierarchy(rq.Request):  # type: ignore[misc]
    _request = rq.Struct(
        rq.Card8("opcode"),
        rq.Opcode(43),
        rq.RequestLength(),
        rq.Card8("num_changes"),
        rq.Pad(3),
        rq.String8("changes"),
    )


class _SetClientPointer(rq.Request):  # type: ignore[misc]
    _request = rq.Struct(
        rq.Card8("opcode"),
        rq.Opcode(44),
        rq.RequestLength(),
        rq.Window("window"),
        rq.Card16("deviceid"),
        rq.Pad(2),
    )


def _add_master(name: str) -> bytes:
    raw = name.encode()
    padded = raw + b"\0" * (-len(raw) % 4)
    return struct.pack("=HHHBB", _ADD_MASTER, 2 + len(padded) // 4, len(raw), 1, 1) + padded


class CustomerDevice:
    """Moves and clicks as the customer: through an XTEST device of a master of its own."""

    def __init__(self, display_name: str | None = None, name: str = "customer") -> None:
        self._d = display.Display(display_name)
        opcode = self._d.display.get_extension_major("XInputExtension")
        self._d.xinput_query_version()
        _ChangeHierarchy(
            display=self._d.display, opcode=opcode, num_changes=1, changes=_add_master(name)
        )
        self._d.sync()
        pointer = next(
            dev.deviceid
            for dev in self._d.xinput_query_device(xinput.AllDevices).devices
            if _name(dev) == f"{name} pointer"
        )
        _SetClientPointer(display=self._d.display, opcode=opcode, window=0, deviceid=pointer)
        self._d.sync()
        self._root = self._d.screen().root

    def move(self, x: int, y: int) -> None:
        xtest.fake_input(self._d, X.MotionNotify, detail=0, root=self._root, x=x, y=y)
        self._d.sync()

    def close(self) -> None:
        self._d.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _name(dev: object) -> str:
    name = getattr(dev, "name", "")
    return name.decode() if isinstance(name, bytes) else str(name)
