"""The consent dialog and the session indicator (Tk widgets only).

Both stay in front: ``-topmost`` asks the window manager, and ``TkUI`` lifts
them again every second because without a window manager (or with one that
ignores the hint) any new window would cover them.
"""

from __future__ import annotations

import sys
import time
import tkinter as tk
from collections.abc import Callable
from typing import Final

from zvkdiag.consent import tk_theme as theme
from zvkdiag.consent.describe import ENGINEER_LINE, is_preview
from zvkdiag.consent.messages import text
from zvkdiag.consent.model import Decision, Scope
from zvkdiag.consent.tk_queue import Ticket

__all__ = ["ConsentDialog", "Indicator", "place_dialog", "primary_area"]

_MARGIN = 16
"""Pixels between the indicator and the screen's lower right corner."""
_COMMAND_LINE = 1
"""Body line of a command request that holds the command itself."""


def primary_area(root: tk.Misc) -> tuple[int, int, int, int]:
    """``(left, top, width, height)`` of the primary monitor.

    Asks mss (RandR knows which output is primary); falls back to Tk's
    screen size, which spans all monitors.
    """
    try:
        import mss

        display = root.winfo_screen() if sys.platform.startswith("linux") else None
        with mss.MSS(display=display) as grabber:
            mon = grabber.primary_monitor
            return int(mon["left"]), int(mon["top"]), int(mon["width"]), int(mon["height"])
    except Exception:  # any capture problem: the whole Tk screen is a fine answer
        return 0, 0, root.winfo_screenwidth(), root.winfo_screenheight()


class ConsentDialog:
    """One question in front of everything: what is asked, by whom, and two buttons.

    Parameters
    ----------
    answer
        Called once with the customer's Decision, or TIMEOUT when ``timeout``
        seconds pass (closing the window counts as "Ablehnen").
    """

    def __init__(
        self,
        root: tk.Misc,
        lang: str,
        fonts: theme.Fonts,
        ticket: Ticket,
        answer: Callable[[Decision], None],
    ) -> None:
        self.lang, self.fonts, self._answer = lang, fonts, answer
        self._deadline = time.monotonic() + ticket.timeout
        self.window = tk.Toplevel(root, name="consent", background=theme.BG)
        # Mapped only once placed: shown at Tk's default spot first, it would flash
        # over the main window with the ID and password.
        self.window.withdraw()
        self.window.title(text("dialog.title", lang))
        self.window.resizable(False, False)
        self.window.attributes("-topmost", True)
        self.window.protocol("WM_DELETE_WINDOW", lambda: answer(Decision.DENY))
        self._body(ticket)
        self.preview = is_preview(ticket.request)
        self._scope = ticket.request.scope
        self.countdown = tk.Label(
            self.window, name="countdown", font=fonts.normal, background=theme.BG, anchor="w"
        )
        self.countdown.pack(fill="x", padx=14, pady=(8, 0))
        self._buttons()
        self.window.bind("<Escape>", lambda _e: answer(Decision.DENY))
        self._timer = self.window.after(int(ticket.timeout * 1000), self._expire)
        self._tick_id = ""
        self._tick()
        _centre(self.window, root)
        self.window.deiconify()
        self.lift()

    def _body(self, ticket: Ticket) -> None:
        tk.Label(
            self.window,
            name="headline",
            text=ticket.headline,
            font=self.fonts.title,
            background=theme.BAND,
            foreground=theme.BAND_TEXT,
            anchor="w",
            justify="left",
            wraplength=520,
            padx=14,
            pady=12,
        ).pack(fill="x")
        for index, line in enumerate(ticket.lines):
            options: dict[str, object] = {"font": self.fonts.normal}
            if index == ENGINEER_LINE:
                options["font"] = self.fonts.bold
                if not ticket.request.engineer_verified:
                    options["foreground"] = theme.WARNING
            elif _is_control_warning(ticket, index):
                options.update(font=self.fonts.bold, foreground=theme.WARNING)
            elif ticket.request.scope is Scope.COMMAND and index == _COMMAND_LINE:
                options.update(font=self.fonts.mono, background=theme.CODE_BG, padx=6, pady=4)
            options.setdefault("background", theme.BG)
            tk.Label(
                self.window,
                name=f"line{index}",
                text=line,
                anchor="w",
                justify="left",
                wraplength=520,
                **options,  # type: ignore[arg-type]
            ).pack(fill="x", padx=14, pady=(8 if index == 0 else 2, 0))

    def _buttons(self) -> None:
        row = tk.Frame(self.window, name="buttons", background=theme.BG)
        row.pack(fill="x", padx=14, pady=12)
        allow, deny = _button_keys(self.preview, self._scope)
        self.allow_button = tk.Button(
            row,
            name="allow",
            text=text(allow, self.lang),
            font=self.fonts.bold,
            width=12,
            command=lambda: self._answer(Decision.ALLOW),
        )
        self.deny_button = tk.Button(
            row,
            name="deny",
            text=text(deny, self.lang),
            font=self.fonts.bold,
            width=12,
            command=lambda: self._answer(Decision.DENY),
        )
        self.deny_button.pack(side="right")
        self.allow_button.pack(side="right", padx=(0, 10))

    def _tick(self) -> None:
        left = max(0, round(self._deadline - time.monotonic()))
        self.countdown.configure(text=text("ask.countdown", self.lang, seconds=left))
        self._tick_id = self.window.after(theme.TICK_MS, self._tick)

    def _expire(self) -> None:
        self._answer(Decision.TIMEOUT)

    def lift(self) -> None:
        self.window.lift()
        self.window.attributes("-topmost", True)

    def destroy(self) -> None:
        for after_id in (self._timer, self._tick_id):
            self.window.after_cancel(after_id)
        self.window.destroy()


def _button_keys(preview: bool, scope: Scope) -> tuple[str, str]:
    """Catalog keys of the yes and no buttons: the words match the question."""
    if preview:
        return "button.send", "button.dont_send"
    if scope is Scope.CONTINUE:
        return "button.continue", "button.end"
    return "button.allow", "button.deny"


class Indicator:
    """The borderless, always-on-top "Fernwartung aktiv — <name>" window with "Beenden".

    While the engineer sees the screen, a second row says so and offers
    "Bildschirm-Freigabe beenden" (``on_stop_screen``): stopping the view must
    not require ending the whole session.
    """

    def __init__(
        self,
        root: tk.Misc,
        lang: str,
        fonts: theme.Fonts,
        *,
        on_end: Callable[[], None],
        on_stop_screen: Callable[[], None] = lambda: None,
        on_stop_control: Callable[[], None] = lambda: None,
    ) -> None:
        self.root, self.lang = root, lang
        self.window = tk.Toplevel(root, name="indicator", background=theme.INDICATOR)
        self.window.title(text("indicator.title", lang))
        self.window.overrideredirect(True)
        self.window.attributes("-topmost", True)
        inner = tk.Frame(self.window, background=theme.INDICATOR, padx=10, pady=8)
        inner.pack(fill="x")
        self.label = self._label(inner, "active", fonts)
        self.label.pack(side="left")
        self.unverified = tk.Label(
            inner,
            name="unverified",
            font=fonts.bold,
            background=theme.CODE_BG,
            foreground=theme.WARNING,
            padx=4,
        )
        self.end_button = tk.Button(
            inner, name="end", text=text("button.end", lang), font=fonts.bold, command=on_end
        )
        self.end_button.pack(side="right", padx=(12, 0))
        self._screen_row(fonts, on_stop_screen)
        self._control_row(fonts, on_stop_control)
        self.window.withdraw()
        self.visible = False

    def _label(self, parent: tk.Misc, name: str, fonts: theme.Fonts, value: str = "") -> tk.Label:
        return tk.Label(
            parent,
            name=name,
            text=value,
            font=fonts.bold,
            background=theme.INDICATOR,
            foreground=theme.BAND_TEXT,
        )

    def _screen_row(self, fonts: theme.Fonts, on_stop: Callable[[], None]) -> None:
        self.screen_row = tk.Frame(self.window, name="screen", background=theme.INDICATOR, padx=10)
        self._label(self.screen_row, "shown", fonts, text("indicator.screen", self.lang)).pack(
            side="left"
        )
        self.stop_screen_button = tk.Button(
            self.screen_row,
            name="stop",
            text=text("button.stop_screen", self.lang),
            font=fonts.bold,
            command=on_stop,
        )
        self.stop_screen_button.pack(side="right", padx=(12, 0))
        self.screen_shown = False

    def _control_row(self, fonts: theme.Fonts, on_stop: Callable[[], None]) -> None:
        self.control_row = tk.Frame(
            self.window, name="control", background=theme.INDICATOR, padx=10
        )
        self.control_label = self._label(
            self.control_row, "state", fonts, text("indicator.control", self.lang)
        )
        self.control_label.pack(side="left")
        self.stop_control_button = tk.Button(
            self.control_row,
            name="stop",
            text=text("button.stop_control", self.lang),
            font=fonts.bold,
            command=on_stop,
        )
        self.stop_control_button.pack(side="right", padx=(12, 0))
        self.controlled = False

    def show_control(self, active: bool, *, paused: bool = False) -> None:
        """Add or remove the "Steuerung aktiv" row with its "Steuerung beenden" button."""
        key = "indicator.control.paused" if paused else "indicator.control"
        self.control_label.configure(text=text(key, self.lang))
        if active != self.controlled:
            if active:
                self.control_row.pack(fill="x", pady=(0, 8))
            else:
                self.control_row.pack_forget()
            self.controlled = active
        if self.visible:
            self._place()

    def show(self, engineer: str, *, verified: bool) -> None:
        """Show the indicator for ``engineer`` at the lower right of the primary screen."""
        self.label.configure(text=text("indicator.active", self.lang, engineer=engineer))
        if verified:
            self.unverified.pack_forget()
        else:
            marker = text("engineer.unverified", self.lang, engineer="").strip()
            self.unverified.configure(text=marker)
            self.unverified.pack(side="left", padx=(8, 0))
        self._place()
        self.window.deiconify()
        self.visible = True
        self.lift()

    def show_screen(self, active: bool) -> None:
        """Add or remove the "screen is shown" row; the window keeps its lower right corner."""
        if active == self.screen_shown:
            return
        if active:
            self.screen_row.pack(fill="x", pady=(0, 8))
        else:
            self.screen_row.pack_forget()
        self.screen_shown = active
        if self.visible:
            self._place()

    def _place(self) -> None:
        self.window.update_idletasks()
        left, top, width, height = primary_area(self.root)
        x = left + width - self.window.winfo_reqwidth() - _MARGIN
        y = top + height - self.window.winfo_reqheight() - _MARGIN
        self.window.geometry(f"+{x}+{y}")

    def hide(self) -> None:
        """Withdraw the indicator; a next session starts without the screen and control rows."""
        self.show_screen(False)
        self.show_control(False)
        self.window.withdraw()
        self.visible = False

    def lift(self) -> None:
        if self.visible:
            self.window.lift()
            self.window.attributes("-topmost", True)


Box = tuple[int, int, int, int]  # left, top, width, height
GAP: Final = 16


def place_dialog(size: tuple[int, int], area: Box, avoid: Box | None) -> tuple[int, int]:
    """Where a dialog of ``size`` goes on the monitor ``area``.

    Centred, a third of the way down; but if that would cover ``avoid`` (the
    main window, whose ID and password the customer may still be reading out),
    then beside it (right, then left), below or above it, whichever first fits
    on the monitor.  If none fits, centred after all.
    """
    w, h = size
    left, top, width, height = area
    centred = (left + (width - w) // 2, top + (height - h) // 3)
    if avoid is None or not _overlap((*centred, w, h), avoid):
        return centred
    ax, ay, aw, ah = avoid
    for x, y in (
        (ax + aw + GAP, centred[1]),
        (ax - w - GAP, centred[1]),
        (centred[0], ay + ah + GAP),
        (centred[0], ay - h - GAP),
    ):
        y = min(max(y, top), top + height - h)
        inside = left <= x and x + w <= left + width and top <= y and y + h <= top + height
        if inside and not _overlap((x, y, w, h), avoid):
            return x, y
    return centred


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _centre(window: tk.Toplevel, root: tk.Misc) -> None:
    window.update_idletasks()
    avoid: Box | None = None
    if root.winfo_ismapped():
        avoid = (root.winfo_rootx(), root.winfo_rooty(), root.winfo_width(), root.winfo_height())
    size = (window.winfo_reqwidth(), window.winfo_reqheight())
    x, y = place_dialog(size, primary_area(root), avoid)
    window.geometry(f"+{x}+{y}")


def _is_control_warning(ticket: Ticket, index: int) -> bool:
    """The line under the engineer's name that warns before unverified remote control."""
    request = ticket.request
    return (
        request.scope is Scope.SCREEN_CONTROL
        and not request.engineer_verified
        and index == ENGINEER_LINE + 1
    )
