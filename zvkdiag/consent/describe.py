"""The words a customer reads for one consent request, shared by every UI.

``describe`` is pure: the Tk dialog and the console prompt call it with the
same request and show the same texts, so what the customer agrees to does not
depend on which UI happens to run.  It also validates ``detail`` (it arrives
from the network): a request the customer could not read correctly is refused
with :class:`~zvkdiag._errors.ProtocolError` before anyone is asked.
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Callable, Mapping, Sequence

from zvkdiag._errors import ProtocolError
from zvkdiag.consent.messages import text
from zvkdiag.consent.model import ConsentRequest, Scope

__all__ = ["ENGINEER_LINE", "describe", "format_size", "is_preview", "visible"]

ENGINEER_LINE = 0
"""Index of the body line naming the engineer (UIs colour it when unverified)."""

_Detail = Mapping[str, object]
_Lines = list[str]


def describe(request: ConsentRequest, lang: str = "de") -> tuple[str, list[str]]:
    """Return ``(headline, body_lines)`` for ``request`` in ``lang``.

    The headline names the engineer and the kind of request
    (``ask.<scope>`` in the catalog); ``body_lines[ENGINEER_LINE]`` says
    whether the name was verified by the organisation's CA; the remaining
    lines say exactly what is asked: each probe with its description, a
    command verbatim, a file's name, folder, size and direction.

    Raises
    ------
    ProtocolError
        ``detail`` does not have the shape documented on ``ConsentRequest``.
    """
    engineer = visible(request.engineer)
    if is_preview(request):
        headline = text("ask.probe.send", lang, engineer=engineer)
        return headline, [visible(line) for line in _preview(request.detail, lang)]
    headline = text(f"ask.{request.scope.value}", lang, engineer=engineer)
    key = "engineer.verified" if request.engineer_verified else "engineer.unverified"
    lines = [text("ask.engineer", lang, engineer=text(key, lang, engineer=engineer))]
    lines += _DETAIL_LINES[request.scope](request.detail, lang)
    if request.scope is Scope.SCREEN_CONTROL and not request.engineer_verified:
        lines.insert(ENGINEER_LINE + 1, text("ask.screen.control.unverified", lang))
    return headline, lines


def is_preview(request: ConsentRequest) -> bool:
    """A sensitive probe's second question: send these collected rows, or not."""
    return request.scope is Scope.PROBE and "preview_de" in request.detail


def _preview(detail: _Detail, lang: str) -> _Lines:
    value = detail.get(f"preview_{lang}", detail.get("preview_de"))
    if not isinstance(value, str):
        raise ProtocolError("probe preview is not text")
    return value.splitlines()


def format_size(size: int, lang: str = "de") -> str:
    """A size as people say it: ``1,5 MB`` (German decimal comma) or ``1.5 MB``."""
    value = float(size)
    for unit in ("Bytes" if lang == "de" else "bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            break
        value /= 1000
    shown = f"{int(value)}" if value == int(value) else f"{value:.1f}"
    return f"{shown.replace('.', ',') if lang == 'de' else shown} {unit}"


def visible(value: str) -> str:
    """Show control and bidi-override characters as escapes instead of obeying them.

    A command with an embedded newline or a right-to-left override could
    otherwise look harmless in the dialog while doing something else.
    """
    return "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in value)


def _group(number: int, lang: str) -> str:
    grouped = f"{number:,}"
    return grouped.replace(",", ".") if lang == "de" else grouped


def _session(detail: _Detail, lang: str) -> _Lines:
    return [text("ask.session.detail", lang)]


def _screen_view(detail: _Detail, lang: str) -> _Lines:
    monitor = detail.get("monitor", 0)
    if not isinstance(monitor, int) or isinstance(monitor, bool) or monitor < 0:
        raise ProtocolError(f"screen.view request with an invalid monitor: {monitor!r}")
    shown: object = monitor if monitor else text("ask.screen.all", lang)
    return [text("ask.screen.detail", lang), text("ask.screen.monitor", lang, monitor=shown)]


def _screen_control(detail: _Detail, lang: str) -> _Lines:
    return [text("ask.screen.control.detail", lang), text("ask.screen.control.watch", lang)]


def _screen_point(detail: _Detail, lang: str) -> _Lines:
    return [text("ask.screen.point.detail", lang)]


def _clipboard(detail: _Detail, lang: str) -> _Lines:
    said = detail.get("text")
    if not isinstance(said, str):
        raise ProtocolError("clipboard request without its text")
    if not said:
        return [text("ask.clipboard.empty", lang)]
    return [text("ask.clipboard.text", lang, text=visible(said))]


def _probe(detail: _Detail, lang: str) -> _Lines:
    probes = detail.get("probes")
    if not isinstance(probes, Sequence) or isinstance(probes, str) or not probes:
        raise ProtocolError("probe request without a list of probes")
    return [_probe_line(probe, lang) for probe in probes]


def _probe_line(probe: object, lang: str) -> str:
    if not isinstance(probe, Mapping):
        raise ProtocolError(f"probe entry is not a mapping: {probe!r}")
    title = _field(probe, f"title_{lang}", fallback="title_de")
    description = _field(probe, f"description_{lang}", fallback="description_de")
    return text("ask.probe.item", lang, title=visible(title), description=visible(description))


def _field(probe: Mapping[object, object], key: str, *, fallback: str) -> str:
    value = probe.get(key, probe.get(fallback))
    if not isinstance(value, str) or not value.strip():
        raise ProtocolError(f"probe {probe.get('name')!r} lacks a readable {fallback}")
    return value


def _command(detail: _Detail, lang: str) -> _Lines:
    argv = detail.get("argv")
    if (
        not isinstance(argv, Sequence)
        or isinstance(argv, str)
        or not argv
        or not all(isinstance(arg, str) for arg in argv)
    ):
        raise ProtocolError(f"command request with an invalid argv: {argv!r}")
    return [visible(shlex.join(argv)), text("ask.command.detail", lang)]


def _file(detail: _Detail, lang: str, *, direction: str) -> _Lines:
    path, size = detail.get("path"), detail.get("size")
    if not isinstance(path, str) or not path:
        raise ProtocolError(f"file request with an invalid path: {path!r}")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ProtocolError(f"file request with an invalid size: {size!r}")
    path = visible(path)
    normal = path.replace("\\", "/")
    folder, name = posixpath.split(normal)
    return [
        text("ask.file.name", lang, name=name or path),
        text("ask.file.folder", lang, folder=_native_folder(path, folder)),
        text("ask.file.size", lang, size=_group(size, lang), size_human=format_size(size, lang)),
        text(direction, lang),
    ]


def _native_folder(path: str, folder: str) -> str:
    # Show a Windows path with backslashes, as the customer knows it.
    return folder.replace("/", "\\") if "\\" in path else (folder or ".")


def _download(detail: _Detail, lang: str) -> _Lines:
    return _file(detail, lang, direction="ask.file.to_engineer")


def _upload(detail: _Detail, lang: str) -> _Lines:
    return _file(detail, lang, direction="ask.file.to_customer")


def _continue(detail: _Detail, lang: str) -> _Lines:
    minutes, seconds = detail.get("idle_minutes"), detail.get("answer_seconds")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (minutes, seconds)):
        raise ProtocolError("a continue question without its idle minutes and answer seconds")
    shown = f"{minutes:g}".replace(".", ",") if lang == "de" else f"{minutes:g}"
    return [text("ask.session.continue.detail", lang, minutes=shown, seconds=f"{seconds:g}")]


def _message(detail: _Detail, lang: str) -> _Lines:
    said = detail.get("text")
    return [text("ask.message.text", lang, text=visible(said))] if isinstance(said, str) else []


_DETAIL_LINES: Mapping[Scope, Callable[[_Detail, str], _Lines]] = {
    Scope.SESSION: _session,
    Scope.SCREEN_VIEW: _screen_view,
    Scope.SCREEN_CONTROL: _screen_control,
    Scope.SCREEN_POINT: _screen_point,
    Scope.CLIPBOARD_SEND: _clipboard,
    Scope.CLIPBOARD_GET: _clipboard,
    Scope.PROBE: _probe,
    Scope.COMMAND: _command,
    Scope.FILE_DOWNLOAD: _download,
    Scope.FILE_UPLOAD: _upload,
    Scope.MESSAGE: _message,
    Scope.CONTINUE: _continue,
}
