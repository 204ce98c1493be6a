"""The QuickSupport main window and the audit-log viewer (Tk widgets only).

Widgets display what ``TkUI`` tells them; they do no I/O except the viewer
reading the log file the customer asked to see.  Every text comes from the
catalog.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from pathlib import Path

from zvkdiag.consent import tk_theme as theme
from zvkdiag.consent.audit import read_records, verify
from zvkdiag.consent.messages import text

__all__ = ["AuditViewer", "MainWindow"]


class MainWindow:
    """ID and password large, a status line, engineer messages, "Protokoll öffnen", "Beenden"."""

    def __init__(
        self,
        root: tk.Tk,
        lang: str,
        fonts: theme.Fonts,
        *,
        on_audit: Callable[[], None] | None,
        on_quit: Callable[[], None],
        on_retry: Callable[[], None] | None = None,
    ) -> None:
        self.root, self.lang, self.fonts = root, lang, fonts
        self._on_retry = on_retry
        root.title(text("app.title", lang))
        root.configure(background=theme.BG)
        root.resizable(False, False)
        band = tk.Label(
            root,
            name="band",
            text=text("app.title", lang),
            font=fonts.title,
            background=theme.BAND,
            foreground=theme.BAND_TEXT,
            anchor="w",
            padx=14,
            pady=10,
        )
        band.pack(fill="x")
        pending = text("code.pending", lang)
        self.id_value = self._code_row("id", text("code.id", lang), pending)
        self.password_value = self._code_row("password", text("code.password", lang), pending)
        self.notice = self._label("notice", "", foreground=theme.WARNING, font=fonts.bold)
        self.status = self._label("status", text("status.waiting", lang), font=fonts.bold)
        self.messages = tk.Text(
            root,
            name="messages",
            height=5,
            width=52,
            wrap="word",
            font=fonts.normal,
            relief="flat",
            state="disabled",
            background=theme.CODE_BG,
        )
        self.messages.pack(fill="x", padx=14, pady=(4, 8))
        self._buttons(on_audit, on_quit)

    def _code_row(self, name: str, caption: str, value: str) -> tk.Label:
        frame = tk.Frame(self.root, name=f"{name}_row", background=theme.BG)
        frame.pack(fill="x", padx=14, pady=(10, 0))
        tk.Label(frame, text=caption, font=self.fonts.normal, background=theme.BG, anchor="w").pack(
            fill="x"
        )
        label = tk.Label(
            frame,
            name=name,
            text=value,
            font=self.fonts.code,
            background=theme.CODE_BG,
            anchor="w",
            padx=10,
            pady=4,
        )
        label.pack(fill="x")
        return label

    def _label(self, name: str, value: str, **options: object) -> tk.Label:
        options.setdefault("font", self.fonts.normal)
        label = tk.Label(
            self.root,
            name=name,
            text=value,
            background=theme.BG,
            anchor="w",
            justify="left",
            wraplength=460,
            **options,  # type: ignore[arg-type]
        )
        label.pack(fill="x", padx=14, pady=(6, 0))
        return label

    def _buttons(self, on_audit: Callable[[], None] | None, on_quit: Callable[[], None]) -> None:
        row = tk.Frame(self.root, name="buttons", background=theme.BG)
        row.pack(fill="x", padx=14, pady=(0, 12))
        self.audit_button = tk.Button(
            row,
            name="audit",
            text=text("button.audit", self.lang),
            font=self.fonts.normal,
            command=on_audit or (lambda: None),
            state="normal" if on_audit else "disabled",
        )
        self.audit_button.pack(side="left")
        self.end_button = tk.Button(
            row,
            name="end",
            text=text("button.end", self.lang),
            font=self.fonts.bold,
            command=on_quit,
        )
        self.end_button.pack(side="right")
        # shown only while the relay cannot be reached, between the other two
        self.retry_button = tk.Button(
            row,
            name="retry",
            text=text("button.retry", self.lang),
            font=self.fonts.normal,
            command=self._retry,
        )

    def _retry(self) -> None:
        # stays offered until a way to the relay is found: the agent reports a
        # problem that persists only once
        if self._on_retry is not None:
            self._on_retry()

    def show_retry(self, visible: bool) -> None:
        """Offer "Erneut versuchen" (only when the window was given something to call)."""
        if visible and self._on_retry is not None:
            self.retry_button.pack(side="left", padx=(12, 0))
        else:
            self.retry_button.pack_forget()

    def set_code(self, session_id: str, password: str) -> None:
        """Show an already grouped ID ("123 456 789") and password ("abcd-efgh")."""
        self.id_value.configure(text=session_id)
        self.password_value.configure(text=password)

    def set_status(self, value: str, *, warning: bool = False) -> None:
        """The status line; red while connected to an engineer the CA did not verify."""
        self.status.configure(text=value, foreground=theme.WARNING if warning else "#000000")

    def set_notice(self, value: str, *, warning: bool = False) -> None:
        """A one-line notice under the codes; red for failed sign-in attempts."""
        colour = theme.WARNING if warning else "#000000"
        self.notice.configure(text=value, foreground=colour)

    def add_message(self, value: str) -> None:
        """Append a line to the message area and bring the window forward."""
        self.messages.configure(state="normal")
        if self.messages.get("1.0", "end-1c"):
            self.messages.insert("end", "\n")
        self.messages.insert("end", value)
        self.messages.see("end")
        self.messages.configure(state="disabled")
        self.root.deiconify()
        self.root.lift()

    def message_text(self) -> str:
        return self.messages.get("1.0", "end-1c")


class AuditViewer:
    """A read-only view of the audit log with the verdict of its hash chain on top."""

    def __init__(self, root: tk.Misc, lang: str, fonts: theme.Fonts, path: Path) -> None:
        self.window = tk.Toplevel(root, name="audit_viewer", background=theme.BG)
        self.window.title(text("audit.title", lang))
        self.verdict = tk.Label(
            self.window,
            name="verdict",
            text=_verdict(path, lang),
            font=fonts.bold,
            background=theme.BAND,
            foreground=theme.BAND_TEXT,
            anchor="w",
            padx=10,
            pady=6,
        )
        self.verdict.pack(fill="x")
        self.body = tk.Text(self.window, name="body", width=90, height=20, font=fonts.mono)
        self.body.insert("end", _rows(path))
        self.body.configure(state="disabled")
        self.body.pack(fill="both", expand=True, padx=8, pady=8)
        tk.Button(
            self.window,
            name="close",
            text=text("button.close", lang),
            font=fonts.normal,
            command=self.window.destroy,
        ).pack(pady=(0, 8))
        self.window.lift()


def _verdict(path: Path, lang: str) -> str:
    if not path.exists():
        return text("audit.none", lang)
    result = verify(path)
    if result.ok:
        return text("audit.ok", lang, count=result.records)
    reason = text(f"audit.reason.{result.code}", lang)
    return text("audit.broken", lang, index=result.broken_at, reason=reason)


def _rows(path: Path) -> str:
    if not path.exists():
        return ""
    skip = {"seq", "ts", "kind", "prev", "hash"}
    lines = []
    for record in read_records(path):
        rest = ", ".join(f"{k}={v}" for k, v in record.items() if k not in skip)
        lines.append(f"{record.get('ts', '')}  {record.get('kind', '')}  {rest}")
    return "\n".join(lines)
