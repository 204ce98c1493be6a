"""Notices the customer's own mouse and keyboard on X11 (XInput 2 raw events).

XInput 2 raw events carry the *source* device: input that zvkdiag injects comes
from the server's virtual core XTEST devices, the customer's mouse and keyboard
from their own devices.  Everything that does not come from the core XTEST
devices counts as the customer's (another tool injecting through its own
XTEST master counts too, which is the safe side).

The watcher runs on the agent's event loop (``add_reader`` on its own X
connection), so it costs nothing while nobody moves.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Final

from Xlib import display, error
from Xlib.ext import xinput
from Xlib.protocol import rq

from zvkdiag._errors import ControlUnavailable

__all__ = ["INJECTING_DEVICES", "X11ActivityWatcher"]

INJECTING_DEVICES: Final = frozenset({"Virtual core XTEST pointer", "Virtual core XTEST keyboard"})
_RAW_EVENTS: Final = (
    xinput.RawKeyPress,
    xinput.RawButtonPress,
    xinput.RawMotion,
)
_RAW_MASK: Final = xinput.RawKeyPressMask | xinput.RawButtonPressMask | xinput.RawMotionMask
# XIRawEvent after the generic-event header (XI2proto.h); valuators follow, unread
_RawEventData = rq.Struct(
    rq.Card16("deviceid"),
    rq.Card32("time"),
    rq.Card32("detail"),
    rq.Card16("sourceid"),
    rq.Card16("valuators_len"),
    rq.Card32("flags"),
    rq.Pad(4),
)


class X11ActivityWatcher:
    """Calls back whenever a raw input event comes from a device that is not ours.

    Raises
    ------
    ControlUnavailable
        No display, or the server lacks XInput 2.
    """

    def __init__(self, display_name: str | None = None) -> None:
        try:
            self._d = display.Display(display_name)
        except (error.DisplayError, OSError) as exc:
            raise ControlUnavailable(f"No X display: {exc}") from exc
        if not self._d.has_extension("XInputExtension"):
            self._d.close()
            raise ControlUnavailable("This X server has no XInput 2.")
        self._d.xinput_query_version()
        opcode = self._d.display.get_extension_major("XInputExtension")
        for kind in _RAW_EVENTS:
            self._d.ge_add_event_data(opcode, kind, _RawEventData)
        self._ours = {
            dev.deviceid
            for dev in self._d.xinput_query_device(xinput.AllDevices).devices
            if _name(dev) in INJECTING_DEVICES
        }
        self._loop: asyncio.AbstractEventLoop | None = None
        self._callback: Callable[[], None] = lambda: None

    def start(self, on_customer_input: Callable[[], None]) -> None:
        """Watch from the running loop until ``close``."""
        self._callback = on_customer_input
        self._d.screen().root.xinput_select_events([(xinput.AllMasterDevices, _RAW_MASK)])
        self._d.flush()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._d.fileno(), self._drain)

    def _drain(self) -> None:
        customer = False
        try:
            while self._d.pending_events():
                event = self._d.next_event()
                data = getattr(event, "data", None)
                if data is not None and getattr(event, "evtype", None) in _RAW_EVENTS:
                    customer |= data.sourceid not in self._ours
        except (error.ConnectionClosedError, OSError):
            self.close()
            return
        if customer:
            self._callback()

    def close(self) -> None:
        if self._loop is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self._d.fileno())
            self._loop = None
        with contextlib.suppress(Exception):
            self._d.close()


def _name(dev: Any) -> str:
    name = dev.name
    return name.decode() if isinstance(name, bytes) else str(name)
