"""The one message catalog for every customer-facing text: German first, English second.

Widgets and prompts look texts up here by key; none is written into a widget.
A test checks that both languages have the same keys and placeholders.
"""

from __future__ import annotations

import locale
import os
from typing import Final

__all__ = ["CATALOG", "LANGUAGES", "default_language", "text"]

LANGUAGES: Final = ("de", "en")

CATALOG: Final[dict[str, dict[str, str]]] = {
    "de": {
        "app.title": "ZVK Fernwartung",
        "code.id": "Ihre ID",
        "code.password": "Kennwort",
        "code.new_password": "Neues Kennwort: {password}",
        "status.waiting": "Warte auf Verbindung…",
        "status.connected": "Verbunden mit {engineer}",
        "status.ended": "Sitzung beendet.",
        "failed_try": "Fehlgeschlagener Anmeldeversuch (noch {tries_left} Versuche mit diesem Kennwort).",
        "failed_try.rotated": "Zu viele Fehlversuche: ein neues Kennwort wurde erzeugt.",
        "engineer.verified": "{engineer} (geprüft)",
        "engineer.unverified": "{engineer} (nicht verifiziert)",
        "ask.session": "{engineer} möchte eine Fernwartungssitzung mit Ihnen beginnen.",
        "ask.screen.view": "{engineer} möchte Ihren Bildschirm sehen.",
        "ask.screen.control": "{engineer} möchte Maus und Tastatur steuern.",
        "ask.probe": "{engineer} möchte folgende Informationen von Ihrem PC abrufen:",
        "ask.command": "{engineer} möchte diesen Befehl auf Ihrem PC ausführen:",
        "ask.file.download": "{engineer} möchte diese Datei von Ihrem PC kopieren:",
        "ask.file.upload": "{engineer} möchte diese Datei auf Ihren PC kopieren:",
        "ask.message": "{engineer} möchte Ihnen eine Nachricht zeigen.",
        "ask.file.detail": "{path} ({size} Bytes)",
        "ask.console.prompt": "Erlauben? [y/n] ",
        "ask.timeout": "Keine Antwort innerhalb von {seconds} Sekunden: abgelehnt.",
        "button.allow": "Erlauben",
        "button.deny": "Ablehnen",
        "button.end": "Beenden",
        "button.audit": "Protokoll öffnen",
        "decision.allow": "Erlaubt.",
        "decision.deny": "Abgelehnt.",
        "indicator.active": "Fernwartung aktiv — {engineer}",
        "message.from": "Nachricht von {engineer}: {text}",
        "ended.engineer": "Der Techniker hat die Sitzung beendet.",
        "ended.customer": "Sie haben die Sitzung beendet.",
        "ended.network": "Die Verbindung wurde unterbrochen.",
        "ended.denied": "Sie haben die Sitzung abgelehnt.",
        "quit": "Fernwartung beendet. Auf Wiedersehen.",
    },
    "en": {
        "app.title": "ZVK Remote Support",
        "code.id": "Your ID",
        "code.password": "Password",
        "code.new_password": "New password: {password}",
        "status.waiting": "Waiting for a connection…",
        "status.connected": "Connected with {engineer}",
        "status.ended": "Session ended.",
        "failed_try": "Failed sign-in attempt ({tries_left} tries left with this password).",
        "failed_try.rotated": "Too many failed attempts: a new password was created.",
        "engineer.verified": "{engineer} (verified)",
        "engineer.unverified": "{engineer} (not verified)",
        "ask.session": "{engineer} would like to start a remote support session with you.",
        "ask.screen.view": "{engineer} would like to see your screen.",
        "ask.screen.control": "{engineer} would like to control mouse and keyboard.",
        "ask.probe": "{engineer} would like to read this information from your PC:",
        "ask.command": "{engineer} would like to run this command on your PC:",
        "ask.file.download": "{engineer} would like to copy this file from your PC:",
        "ask.file.upload": "{engineer} would like to copy this file to your PC:",
        "ask.message": "{engineer} would like to show you a message.",
        "ask.file.detail": "{path} ({size} bytes)",
        "ask.console.prompt": "Allow? [y/n] ",
        "ask.timeout": "No answer within {seconds} seconds: denied.",
        "button.allow": "Allow",
        "button.deny": "Deny",
        "button.end": "End",
        "button.audit": "Open log",
        "decision.allow": "Allowed.",
        "decision.deny": "Denied.",
        "indicator.active": "Remote support active — {engineer}",
        "message.from": "Message from {engineer}: {text}",
        "ended.engineer": "The engineer ended the session.",
        "ended.customer": "You ended the session.",
        "ended.network": "The connection was lost.",
        "ended.denied": "You declined the session.",
        "quit": "Remote support ended. Goodbye.",
    },
}


def default_language() -> str:
    """German unless the locale says English (the customers are German-speaking)."""
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            return "en" if value.lower().startswith("en") else "de"
    loc = locale.getlocale()[0] or ""
    return "en" if loc.lower().startswith("en") else "de"


def text(key: str, lang: str = "de", /, **values: object) -> str:
    """Look ``key`` up in ``lang`` (falling back to German) and fill the placeholders."""
    table = CATALOG.get(lang, CATALOG["de"])
    return table.get(key, CATALOG["de"][key]).format(**values)
