"""The one message catalog for every customer-facing text: German first, English second.

Widgets and prompts look texts up here by key; none is written into a widget.
A test checks that both languages have the same keys and placeholders.
"""

from __future__ import annotations

import locale
import os
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from zvkdiag.consent.model import NetworkProblem, RouteChosen

__all__ = ["CATALOG", "LANGUAGES", "default_language", "network_text", "text"]

LANGUAGES: Final = ("de", "en")

CATALOG: Final[dict[str, dict[str, str]]] = {
    "de": {
        "route.tcp": "Verbindung direkt zum Server {relay}",
        "route.wss": "Verbindung über HTTPS (Port 443) zum Server {relay}",
        "route.proxy": "Verbindung über Proxy {proxy}",
        "net.interrupted": "Verbindung unterbrochen – wird wiederhergestellt",
        "net.restored": "wieder verbunden",
        "net.unreachable": (
            "Der Server {relay} ist nicht erreichbar. Bitte prüfen Sie Ihre Internetverbindung;"
            " es wird weiter versucht."
        ),
        "net.proxy-auth": (
            "Der Proxy {proxy} hat die Anmeldung abgelehnt (Benutzername oder Kennwort fehlt"
            " oder ist falsch). Bitte wenden Sie sich an Ihre IT-Abteilung."
        ),
        "net.proxy-refused": (
            "Der Proxy {proxy} lässt keine Verbindung zum Server {relay} zu ({detail})."
            " Bitte wenden Sie sich an Ihre IT-Abteilung."
        ),
        "net.proxy-unreachable": (
            "Der Proxy {proxy} antwortet nicht. Bitte prüfen Sie die Proxy-Einstellung."
        ),
        "net.pac-download": (
            "Die Proxy-Konfigurationsdatei (PAC) {proxy} kann nicht geladen werden ({detail})."
            " Bitte wenden Sie sich an Ihre IT-Abteilung; es wird weiter versucht."
        ),
        "net.pac-script": (
            "Die Proxy-Konfigurationsdatei (PAC) {proxy} ist fehlerhaft: ihr Skript bricht ab"
            " oder nennt keinen brauchbaren Proxy. Bitte wenden Sie sich an Ihre IT-Abteilung."
        ),
        "net.pac-timeout": (
            "Die Proxy-Konfigurationsdatei (PAC) {proxy} ist fehlerhaft: ihr Skript wird nicht"
            " fertig. Bitte wenden Sie sich an Ihre IT-Abteilung."
        ),
        "net.untrusted": (
            "Die Verbindung zum Server {relay} ist nicht vertrauenswürdig: sein Zertifikat"
            " wurde nicht bestätigt ({detail}). Falls Ihre Firma verschlüsselte Verbindungen"
            " prüft, muss Ihre IT-Abteilung deren Zertifikat auf diesem PC installieren."
        ),
        "net.untrusted-proxy": (
            "Die Verbindung zum Server {relay} über den Proxy {proxy} ist nicht"
            " vertrauenswürdig: das Zertifikat, das dort ankommt, wurde nicht bestätigt"
            " ({detail}). Vermutlich prüft Ihre Firma verschlüsselte Verbindungen; Ihre"
            " IT-Abteilung muss deren Zertifikat auf diesem PC installieren."
        ),
        "net.expired": (
            "Das Zertifikat des Servers {relay} ist abgelaufen ({detail}). Die Verbindung"
            " wird deshalb nicht aufgebaut; bitte geben Sie Ihrem Ansprechpartner bei der"
            " ZVK Bescheid. Es wird weiter versucht."
        ),
        "app.title": "ZVK Fernwartung",
        "code.id": "Ihre ID",
        "code.password": "Kennwort",
        "code.new_password": "Neues Kennwort: {password}",
        "status.waiting": "Warte auf Verbindung…",
        "status.connected": "Verbunden mit {engineer}",
        "status.ended": "Sitzung beendet.",
        "failed_try": (
            "Fehlgeschlagener Anmeldeversuch (noch {tries_left} Versuche mit diesem Kennwort)."
        ),
        "failed_try.rotated": "Zu viele Fehlversuche: ein neues Kennwort wurde erzeugt.",
        "engineer.verified": "{engineer} (geprüft)",
        "engineer.unverified": "{engineer} (nicht verifiziert)",
        "ask.session": "{engineer} möchte eine Fernwartungssitzung mit Ihnen beginnen.",
        "ask.screen.view": "{engineer} möchte Ihren Bildschirm sehen.",
        "ask.screen.control": "{engineer} möchte Ihre Maus und Tastatur steuern.",
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
        "button.retry": "Erneut versuchen",
        "audit.set_aside": (
            "Das bisherige Protokoll war beschädigt oder nicht lesbar. Es wurde als {name}"
            " aufbewahrt; ein neues Protokoll beginnt."
        ),
        "instance.running": ("ZVK Fernwartung läuft bereits. Das Fenster wurde nach vorne geholt."),
        "instance.silent": (
            "ZVK Fernwartung läuft bereits, antwortet aber nicht. Bitte beenden Sie das"
            " andere Fenster und starten Sie das Programm erneut."
        ),
        "decision.allow": "Erlaubt.",
        "decision.deny": "Abgelehnt.",
        "indicator.active": "Fernwartung aktiv — {engineer}",
        "message.from": "Nachricht von {engineer}: {text}",
        "ended.engineer": "Der Techniker hat die Sitzung beendet.",
        "ended.customer": "Sie haben die Sitzung beendet.",
        "ended.network": "Die Verbindung wurde unterbrochen.",
        "ended.denied": "Sie haben die Sitzung abgelehnt.",
        "quit": "Fernwartung beendet. Auf Wiedersehen.",
        "button.send": "Senden",
        "ask.probe.send": "{engineer} bekommt diese Daten nur, wenn Sie auf „Senden“ klicken:",
        "button.dont_send": "Nicht senden",
        "preview.title": "Vorschau: {title}",
        "preview.intro": "Diese Daten würden an den Techniker gesendet ({rows} Einträge):",
        "preview.more": "… und {count} weitere Einträge.",
        "preview.empty": "(keine Einträge)",
        "preview.warnings": "Hinweise:",
        "preview.question": "Möchten Sie diese Daten senden?",
        "code.pending": "wird abgerufen…",
        "dialog.title": "ZVK Fernwartung – Anfrage",
        "indicator.title": "ZVK Fernwartung aktiv",
        "audit.title": "ZVK Fernwartung – Protokoll",
        "audit.none": "Es gibt noch kein Protokoll.",
        "audit.ok": "Protokoll unverändert ({count} Einträge).",
        "audit.broken": "Protokoll beschädigt ab Eintrag {index}: {reason}",
        "button.close": "Schließen",
        "ask.engineer": "Techniker: {engineer}",
        "ask.countdown": "Ohne Antwort wird in {seconds} s automatisch abgelehnt.",
        "ask.session.detail": (
            "Sie sehen die ganze Zeit unten rechts ein Fenster und können mit "
            "„Beenden“ jederzeit abbrechen."
        ),
        "ask.screen.detail": (
            "Der Techniker sieht, was auf Ihrem Bildschirm angezeigt wird. Er kann nichts steuern."
        ),
        "ask.screen.monitor": "Bildschirm: {monitor}",
        "ask.screen.all": "alle Bildschirme",
        "ask.screen.control.detail": "Der Techniker kann Ihre Maus und Tastatur bedienen.",
        "ask.probe.item": "• {title}: {description}",
        "ask.command.detail": "Der Befehl läuft mit Ihren Benutzerrechten.",
        "ask.file.name": "Datei: {name}",
        "ask.file.folder": "Ordner: {folder}",
        "ask.file.size": "Größe: {size_human} ({size} Bytes)",
        "ask.file.to_engineer": "Richtung: von Ihrem PC zum Techniker",
        "ask.file.to_customer": "Richtung: vom Techniker auf Ihren PC",
        "ask.message.text": "„{text}“",
        "event.session_started": "Sitzung mit {engineer} begonnen.",
        "event.code_rotated": "Ein neues Kennwort wurde erzeugt.",
        "audit.reason.json": "Eintrag unvollständig oder beschädigt",
        "audit.reason.object": "Eintrag hat ein falsches Format",
        "audit.reason.seq": "falsche Nummer (ein Eintrag fehlt oder wurde eingefügt)",
        "audit.reason.link": "passt nicht zum vorigen Eintrag (der wurde geändert oder entfernt)",
        "audit.reason.hash": "Inhalt wurde nachträglich geändert",
        "indicator.screen": "Bildschirm wird angezeigt",
        "button.stop_screen": "Bildschirm-Freigabe beenden",
        "event.screen_shared": "Der Techniker sieht jetzt Ihren Bildschirm.",
        "event.screen_stopped": "Der Techniker sieht Ihren Bildschirm nicht mehr.",
        "ask.session.continue": "Wird die Fernwartung noch benötigt?",
        "ask.session.continue.detail": (
            "Seit {minutes} Minuten wurde nichts angefragt und Ihr Bildschirm nicht angesehen. "
            "Ohne Antwort endet die Sitzung nach {seconds} Sekunden."
        ),
        "button.continue": "Fortsetzen",
        "ended.idle": "Die Sitzung wurde beendet, weil sie nicht mehr benutzt wurde.",
        "ended.max-length": "Die Sitzung wurde beendet: die Höchstdauer ist erreicht.",
        "notice.max_length": (
            "Die Sitzung endet in {minutes} Minuten (Höchstdauer erreicht). "
            "Der Techniker kann danach eine neue Sitzung beginnen."
        ),
        "console.stop_screen": (
            "Tippen Sie „stop“ und Enter, um die Bildschirm-Freigabe zu beenden."
        ),
        "ask.screen.control.watch": (
            "Sie sehen jede Aktion auf Ihrem Bildschirm. Sobald Sie selbst Maus oder "
            "Tastatur benutzen, wartet der Techniker. „Steuerung beenden“ beendet sie sofort."
        ),
        "ask.screen.control.unverified": (
            "ACHTUNG: Die Identität dieses Technikers ist NICHT geprüft. Erlauben Sie die "
            "Steuerung nur, wenn Sie sicher sind, dass Sie mit der ZVK sprechen."
        ),
        "ask.screen.point": "{engineer} möchte Ihnen auf Ihrem Bildschirm etwas zeigen.",
        "ask.screen.point.detail": (
            "Ein großer Zeiger erscheint dort, wo der Techniker hinzeigt. Er klickt nichts an."
        ),
        "ask.clipboard.send": "{engineer} möchte diesen Text in Ihre Zwischenablage legen:",
        "ask.clipboard.get": ("{engineer} möchte den Text aus Ihrer Zwischenablage erhalten:"),
        "ask.clipboard.text": "„{text}“",
        "ask.clipboard.empty": "(Die Zwischenablage enthält keinen Text.)",
        "indicator.control": "Steuerung aktiv",
        "indicator.control.paused": "Steuerung wartet – Sie bedienen selbst",
        "button.stop_control": "Steuerung beenden",
        "event.control_started": "Der Techniker steuert jetzt Ihre Maus und Tastatur.",
        "event.control_stopped": "Der Techniker steuert Ihre Maus und Tastatur nicht mehr.",
        "console.stop_control": "Tippen Sie „stop“ und Enter, um die Steuerung zu beenden.",
        "event.pointer": "Der Techniker zeigt auf eine Stelle Ihres Bildschirms.",
    },
    "en": {
        "route.tcp": "Connected directly to the server {relay}",
        "route.wss": "Connected over HTTPS (port 443) to the server {relay}",
        "route.proxy": "Connected through proxy {proxy}",
        "net.interrupted": "Connection interrupted – reconnecting",
        "net.restored": "connected again",
        "net.unreachable": (
            "The server {relay} cannot be reached. Please check your internet connection;"
            " the program keeps trying."
        ),
        "net.proxy-auth": (
            "The proxy {proxy} refused the login (user name or password missing or wrong)."
            " Please contact your IT department."
        ),
        "net.proxy-refused": (
            "The proxy {proxy} does not allow a connection to the server {relay} ({detail})."
            " Please contact your IT department."
        ),
        "net.proxy-unreachable": (
            "The proxy {proxy} does not answer. Please check the proxy setting."
        ),
        "net.pac-download": (
            "The proxy configuration file (PAC) {proxy} cannot be loaded ({detail})."
            " Please contact your IT department; the program keeps trying."
        ),
        "net.pac-script": (
            "The proxy configuration file (PAC) {proxy} is faulty: its script fails or names"
            " no usable proxy. Please contact your IT department."
        ),
        "net.pac-timeout": (
            "The proxy configuration file (PAC) {proxy} is faulty: its script does not"
            " finish. Please contact your IT department."
        ),
        "net.untrusted": (
            "The connection to the server {relay} is not trustworthy: its certificate was not"
            " confirmed ({detail}). If your company inspects encrypted connections, your IT"
            " department must install its certificate on this PC."
        ),
        "net.untrusted-proxy": (
            "The connection to the server {relay} through the proxy {proxy} is not"
            " trustworthy: the certificate arriving there was not confirmed ({detail})."
            " Your company probably inspects encrypted connections; your IT department must"
            " install its certificate on this PC."
        ),
        "net.expired": (
            "The certificate of the server {relay} has expired ({detail}). The connection is"
            " therefore not made; please tell your contact at ZVK. The program keeps trying."
        ),
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
        "ask.screen.control": "{engineer} would like to control your mouse and keyboard.",
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
        "button.retry": "Try again",
        "audit.set_aside": (
            "The previous log was damaged or unreadable. It was kept as {name}; a new log begins."
        ),
        "instance.running": (
            "ZVK remote support is already running. Its window was brought to the front."
        ),
        "instance.silent": (
            "ZVK remote support is already running but does not answer. Please end the"
            " other window and start the program again."
        ),
        "decision.allow": "Allowed.",
        "decision.deny": "Denied.",
        "indicator.active": "Remote support active — {engineer}",
        "message.from": "Message from {engineer}: {text}",
        "ended.engineer": "The engineer ended the session.",
        "ended.customer": "You ended the session.",
        "ended.network": "The connection was lost.",
        "ended.denied": "You declined the session.",
        "quit": "Remote support ended. Goodbye.",
        "button.send": "Send",
        "ask.probe.send": "{engineer} gets this data only if you click “Send”:",
        "button.dont_send": "Don't send",
        "preview.title": "Preview: {title}",
        "preview.intro": "This data would be sent to the engineer ({rows} entries):",
        "preview.more": "… and {count} more entries.",
        "preview.empty": "(no entries)",
        "preview.warnings": "Notes:",
        "preview.question": "Do you want to send this data?",
        "code.pending": "being fetched…",
        "dialog.title": "ZVK Remote Support – Request",
        "indicator.title": "ZVK Remote Support active",
        "audit.title": "ZVK Remote Support – Log",
        "audit.none": "There is no log yet.",
        "audit.ok": "Log unchanged ({count} records).",
        "audit.broken": "Log damaged from record {index}: {reason}",
        "button.close": "Close",
        "ask.engineer": "Engineer: {engineer}",
        "ask.countdown": "Without an answer this is denied automatically in {seconds} s.",
        "ask.session.detail": (
            "A small window at the lower right stays visible the whole time; "
            '"End" stops the session at any moment.'
        ),
        "ask.screen.detail": (
            "The engineer sees what your screen shows. They cannot control anything."
        ),
        "ask.screen.monitor": "Screen: {monitor}",
        "ask.screen.all": "all screens",
        "ask.screen.control.detail": "The engineer can use your mouse and keyboard.",
        "ask.probe.item": "• {title}: {description}",
        "ask.command.detail": "The command runs with your user rights.",
        "ask.file.name": "File: {name}",
        "ask.file.folder": "Folder: {folder}",
        "ask.file.size": "Size: {size_human} ({size} bytes)",
        "ask.file.to_engineer": "Direction: from your PC to the engineer",
        "ask.file.to_customer": "Direction: from the engineer to your PC",
        "ask.message.text": "“{text}”",
        "event.session_started": "Session with {engineer} started.",
        "event.code_rotated": "A new password was created.",
        "audit.reason.json": "record incomplete or damaged",
        "audit.reason.object": "record has the wrong format",
        "audit.reason.seq": "wrong number (a record is missing or was inserted)",
        "audit.reason.link": "does not match the record before (that one was changed or removed)",
        "audit.reason.hash": "content was changed afterwards",
        "indicator.screen": "Your screen is being shown",
        "button.stop_screen": "Stop screen sharing",
        "event.screen_shared": "The engineer now sees your screen.",
        "event.screen_stopped": "The engineer no longer sees your screen.",
        "ask.session.continue": "Is the remote support still needed?",
        "ask.session.continue.detail": (
            "Nothing has been requested and your screen has not been viewed for {minutes} "
            "minutes. Without an answer the session ends after {seconds} seconds."
        ),
        "button.continue": "Continue",
        "ended.idle": "The session was ended because it was no longer in use.",
        "ended.max-length": "The session was ended: it reached its maximum length.",
        "notice.max_length": (
            "The session ends in {minutes} minutes (maximum length reached). "
            "The engineer can start a new session afterwards."
        ),
        "console.stop_screen": 'Type "stop" and Enter to stop screen sharing.',
        "ask.screen.control.watch": (
            "You see every action on your screen. While you use your own mouse or keyboard, "
            'the engineer waits. "Stop control" ends it at once.'
        ),
        "ask.screen.control.unverified": (
            "WARNING: this engineer's identity is NOT verified. Allow control only if you are "
            "sure you are speaking with ZVK."
        ),
        "ask.screen.point": "{engineer} would like to point at something on your screen.",
        "ask.screen.point.detail": (
            "A large marker appears where the engineer points. It does not click anything."
        ),
        "ask.clipboard.send": "{engineer} would like to put this text on your clipboard:",
        "ask.clipboard.get": "{engineer} would like to receive the text on your clipboard:",
        "ask.clipboard.text": "\u201c{text}\u201d",
        "ask.clipboard.empty": "(The clipboard holds no text.)",
        "indicator.control": "Remote control active",
        "indicator.control.paused": "Control waits while you use your own mouse or keyboard",
        "button.stop_control": "Stop control",
        "event.control_started": "The engineer now controls your mouse and keyboard.",
        "event.control_stopped": "The engineer no longer controls your mouse and keyboard.",
        "console.stop_control": 'Type "stop" and Enter to stop remote control.',
        "event.pointer": "The engineer is pointing at a place on your screen.",
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


def network_text(event: RouteChosen | NetworkProblem, lang: str = "de") -> str:
    """The line that tells the customer which way the program found, or why it found none."""
    from zvkdiag.consent.model import RouteChosen

    if isinstance(event, RouteChosen):
        key = "route.proxy" if event.proxy else f"route.{event.carrier}"
        return text(key, lang, relay=event.relay, proxy=event.proxy or "")
    return text(
        f"net.{event.kind}", lang, relay=event.relay, proxy=event.proxy, detail=event.detail
    )
