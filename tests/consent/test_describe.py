"""What the customer reads for each kind of request, in both languages."""

from __future__ import annotations

import pytest

from zvkdiag._errors import ProtocolError
from zvkdiag.consent.describe import ENGINEER_LINE, describe, format_size, visible
from zvkdiag.consent.messages import text
from zvkdiag.consent.model import ConsentRequest, Scope

OS_PROBE = {
    "name": "os",
    "title_de": "Betriebssystem",
    "title_en": "Operating system",
    "description_de": "Windows-Version, Build und letzte Updates",
    "description_en": "Windows version, build and recent updates",
}
DISK_PROBE = {
    "name": "storage",
    "title_de": "Festplatten",
    "title_en": "Disks",
    "description_de": "Laufwerke, Größe und freier Platz",
    "description_en": "Drives, size and free space",
}


def req(scope: Scope, verified: bool = True, **detail: object) -> ConsentRequest:
    return ConsentRequest(scope, "Erika Muster", engineer_verified=verified, detail=detail)


def test_session_names_engineer_and_verification():
    headline, lines = describe(req(Scope.SESSION), "de")
    assert headline == "Erika Muster möchte eine Fernwartungssitzung mit Ihnen beginnen."
    assert lines[ENGINEER_LINE] == "Techniker: Erika Muster (geprüft)"
    _, lines = describe(req(Scope.SESSION, verified=False), "en")
    assert lines[ENGINEER_LINE] == "Engineer: Erika Muster (not verified)"


def test_each_probe_with_its_description_in_the_ui_language():
    request = req(Scope.PROBE, probes=[OS_PROBE, DISK_PROBE])
    _, de = describe(request, "de")
    _, en = describe(request, "en")
    assert de[1:] == [
        "• Betriebssystem: Windows-Version, Build und letzte Updates",
        "• Festplatten: Laufwerke, Größe und freier Platz",
    ]
    assert en[1:] == [
        "• Operating system: Windows version, build and recent updates",
        "• Disks: Drives, size and free space",
    ]


def test_command_is_shown_verbatim():
    argv = ["cmd.exe", "/c", "dir C:\\Program Files", "&&", "echo $HOME"]
    _, lines = describe(req(Scope.COMMAND, argv=argv), "de")
    assert lines[1] == "cmd.exe /c 'dir C:\\Program Files' '&&' 'echo $HOME'"


def test_hidden_characters_are_made_visible():
    _, lines = describe(req(Scope.COMMAND, argv=["echo", "ok\nrm -rf ~", "\u202eexe.txt"]), "de")
    assert "\n" not in lines[1] and "\u202e" not in lines[1]
    assert "\\u000a" in lines[1] and "\\u202e" in lines[1]
    assert visible("Grüße, Tab\there") == "Grüße, Tab\\u0009here"


@pytest.mark.parametrize(
    ("scope", "lang", "direction"),
    [
        (Scope.FILE_DOWNLOAD, "de", "Richtung: von Ihrem PC zum Techniker"),
        (Scope.FILE_UPLOAD, "de", "Richtung: vom Techniker auf Ihren PC"),
        (Scope.FILE_DOWNLOAD, "en", "Direction: from your PC to the engineer"),
    ],
)
def test_file_name_size_and_direction(scope: Scope, lang: str, direction: str):
    path = "C:\\Users\\max\\Desktop\\Rentenbescheid.pdf"
    _, lines = describe(req(scope, path=path, size=2_345_678), lang)
    assert lines[1] in ("Datei: Rentenbescheid.pdf", "File: Rentenbescheid.pdf")
    assert lines[2].endswith("C:\\Users\\max\\Desktop")
    assert lines[3] in (
        "Größe: 2,3 MB (2.345.678 Bytes)",
        "Size: 2.3 MB (2,345,678 bytes)",
    )
    assert lines[4] == direction


def test_screen_view_names_the_monitor():
    _, lines = describe(req(Scope.SCREEN_VIEW, monitor=0), "de")
    assert lines[-1] == "Bildschirm: alle Bildschirme"
    _, lines = describe(req(Scope.SCREEN_VIEW, monitor=2), "en")
    assert lines[-1] == "Screen: 2"


def test_every_scope_has_a_description_in_both_languages():
    details = {
        Scope.PROBE: {"probes": [OS_PROBE]},
        Scope.COMMAND: {"argv": ["ver"]},
        Scope.FILE_DOWNLOAD: {"path": "/tmp/a", "size": 1},
        Scope.FILE_UPLOAD: {"path": "/tmp/a", "size": 1},
        Scope.SCREEN_VIEW: {"monitor": 1},
        Scope.MESSAGE: {"text": "Hallo"},
        Scope.CLIPBOARD_SEND: {"text": "Hallo"},
        Scope.CLIPBOARD_GET: {"text": ""},
    }
    for scope in set(Scope) - {Scope.CONTINUE}:
        for lang in ("de", "en"):
            request = ConsentRequest(scope, "E", detail=details.get(scope, {}))
            headline, lines = describe(request, lang)
            assert headline.startswith("E ") and len(lines) >= 1


@pytest.mark.parametrize(
    ("scope", "detail"),
    [
        (Scope.COMMAND, {}),
        (Scope.COMMAND, {"argv": "rm -rf /"}),
        (Scope.COMMAND, {"argv": ["ls", 3]}),
        (Scope.PROBE, {"probes": []}),
        (Scope.PROBE, {"probes": [{"name": "os"}]}),
        (Scope.FILE_DOWNLOAD, {"path": "a.txt"}),
        (Scope.FILE_UPLOAD, {"path": "a.txt", "size": -1}),
        (Scope.FILE_UPLOAD, {"path": "", "size": 1}),
        (Scope.SCREEN_VIEW, {"monitor": "1"}),
    ],
)
def test_malformed_detail_is_refused_before_asking(scope: Scope, detail: dict[str, object]):
    with pytest.raises(ProtocolError):
        describe(ConsentRequest(scope, "E", detail=detail), "de")


def test_format_size():
    assert format_size(999, "de") == "999 Bytes"
    assert format_size(1000, "en") == "1 KB"
    assert format_size(1_500_000, "de") == "1,5 MB"
    assert format_size(3_000_000_000_000, "en") == "3000 GB"


def test_the_continue_question_says_how_long_idle_and_how_long_to_answer() -> None:
    request = ConsentRequest(
        Scope.CONTINUE, "E", detail={"idle_minutes": 0.5, "answer_seconds": 60}
    )
    headline, lines = describe(request, "de")
    assert headline == "Wird die Fernwartung noch benötigt?"
    assert "0,5 Minuten" in lines[-1] and "60 Sekunden" in lines[-1]
    headline, lines = describe(request, "en")
    assert headline == "Is the remote support still needed?" and "0.5 minutes" in lines[-1]
    with pytest.raises(ProtocolError):
        describe(ConsentRequest(Scope.CONTINUE, "E", detail={"idle_minutes": "x"}), "de")


def test_control_by_an_unverified_engineer_is_warned_about_first():
    for lang in ("de", "en"):
        unverified = describe(ConsentRequest(Scope.SCREEN_CONTROL, "E", detail={}), lang)[1]
        warning = text("ask.screen.control.unverified", lang)
        assert unverified[ENGINEER_LINE + 1] == warning
        verified = describe(
            ConsentRequest(Scope.SCREEN_CONTROL, "E", engineer_verified=True, detail={}), lang
        )[1]
        assert warning not in verified
        view = describe(ConsentRequest(Scope.SCREEN_VIEW, "E", detail={"monitor": 0}), lang)[1]
        assert warning not in view  # only control gets it: control is what a scammer wants
