"""The security_posture probe: antivirus, firewall, UAC, Secure Boot, updates, encryption.

One row per check with ``ok`` / ``warning`` / ``problem`` / ``unknown``.
Everything is read without admin rights: Security Center and firewall
profiles through CIM, the rest from the registry (Windows) or ``/sys`` and
``/etc`` (Linux).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final

from zvkdiag.probes.base import Probe, ProbeContext, Record, schema
from zvkdiag.probes.winformats import (
    RegTree,
    int_or_none,
    powershell_json,
    read_registry,
    reg_values,
    text_or_none,
)

__all__ = [
    "SecurityPostureProbe",
    "antivirus_checks",
    "decode_av_state",
    "firewall_checks",
    "registry_checks",
]

_AV_PS: Final = (
    "Get-CimInstance -Namespace root/SecurityCenter2 -ClassName AntiVirusProduct | "
    "Select-Object displayName,productState,timestamp | ConvertTo-Json"
)
_FW_PS: Final = "Get-NetFirewallProfile | Select-Object Name,Enabled | ConvertTo-Json"
UAC_KEY: Final = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System"
SECURE_BOOT_KEY: Final = r"HKLM\SYSTEM\CurrentControlSet\Control\SecureBoot\State"
AU_POLICY_KEY: Final = r"HKLM\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate\AU"
_EFI_SECURE_BOOT: Final = "SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"


def _check(check: str, status: str, detail: str | None) -> Record:
    return {"check": check, "status": status, "detail": detail}


def decode_av_state(state: int) -> tuple[bool, bool]:
    """(enabled, signatures up to date) from Security Center's ``productState``.

    The middle byte's 0x10 bit means "on"; the low byte is 0x00 when the
    signatures are current and 0x10 when they are out of date.
    """
    return bool(state & 0x1000), not bool(state & 0x10)


def antivirus_checks(items: list[Mapping[str, object]]) -> Iterator[Record]:
    if not items:
        yield _check("antivirus", "problem", "no antivirus product registered")
        return
    for item in items:
        name = text_or_none(item.get("displayName")) or "?"
        state = int_or_none(item.get("productState"))
        if state is None:
            yield _check("antivirus", "unknown", name)
            continue
        enabled, current = decode_av_state(state)
        status = "ok" if enabled and current else ("warning" if enabled else "problem")
        words = ["on" if enabled else "off", "up to date" if current else "signatures out of date"]
        yield _check("antivirus", status, f"{name}: {', '.join(words)}")


def firewall_checks(items: list[Mapping[str, object]]) -> Iterator[Record]:
    for item in items:
        profile = text_or_none(item.get("Name")) or "?"
        enabled = item.get("Enabled")
        on = enabled is True or enabled == 1 or str(enabled).lower() == "true"
        yield _check(
            f"firewall:{profile.lower()}", "ok" if on else "problem", "on" if on else "off"
        )


def registry_checks(tree: RegTree) -> Iterator[Record]:
    """UAC, Secure Boot and the automatic-update policy from the registry."""
    uac = (reg_values(tree, UAC_KEY) or {}).get("EnableLUA")
    yield _check("uac", "ok" if uac == 1 else ("problem" if uac == 0 else "unknown"), None)
    boot = (reg_values(tree, SECURE_BOOT_KEY) or {}).get("UEFISecureBootEnabled")
    boot_status = "ok" if boot == 1 else ("warning" if boot == 0 else "unknown")
    yield _check("secure_boot", boot_status, None if boot is not None else "legacy BIOS or unknown")
    no_auto = (reg_values(tree, AU_POLICY_KEY) or {}).get("NoAutoUpdate")
    yield _check(
        "automatic_updates",
        "problem" if no_auto == 1 else "ok",
        "disabled by policy" if no_auto == 1 else None,
    )


class SecurityPostureProbe(Probe):
    name = "security_posture"
    title_de = "Sicherheitseinstellungen"
    title_en = "Security settings"
    description_de = (
        "Ob Virenschutz, Firewall, Benutzerkontensteuerung, sicherer Start, automatische "
        "Updates und Laufwerksverschlüsselung eingeschaltet sind."
    )
    description_en = (
        "Whether antivirus, firewall, user account control, secure boot, automatic updates "
        "and drive encryption are switched on."
    )
    platforms = frozenset({"linux", "windows"})
    columns = schema(check="string", status="category", detail="string")
    never_collect = ("recovery keys", "antivirus quarantine contents", "firewall rules")
    timeout = 20.0

    def collect(self, ctx: ProbeContext) -> Iterator[Record]:
        if ctx.platform == "windows":
            yield from antivirus_checks(powershell_json(ctx, _AV_PS))
            yield from firewall_checks(powershell_json(ctx, _FW_PS))
            tree: RegTree = {}
            for key in (UAC_KEY, SECURE_BOOT_KEY, AU_POLICY_KEY):
                with ctx.attempt(f"registry {key}"):
                    tree |= read_registry(key, depth=0)
            yield from registry_checks(tree)
            return
        yield linux_secure_boot(Path("/sys/firmware/efi"))
        yield linux_auto_updates(Path("/etc/apt/apt.conf.d"))
        yield linux_disk_encryption(Path("/sys/block"))
        yield linux_firewall(Path("/etc"))


def linux_secure_boot(efi: Path) -> Record:
    if not efi.is_dir():
        return _check("secure_boot", "unknown", "no UEFI firmware (legacy BIOS or virtual machine)")
    var = efi / "efivars" / _EFI_SECURE_BOOT
    try:
        on = var.read_bytes()[-1:] == b"\x01"
    except OSError:
        return _check("secure_boot", "unknown", "Secure Boot state not readable")
    return _check("secure_boot", "ok" if on else "warning", "on" if on else "off")


def linux_auto_updates(conf_dir: Path) -> Record:
    text = ""
    for path in sorted(conf_dir.glob("*")) if conf_dir.is_dir() else []:
        try:
            text += path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
    on = 'APT::Periodic::Unattended-Upgrade "1"' in text
    return _check(
        "automatic_updates", "ok" if on else "warning", "unattended-upgrades" if on else "off"
    )


def linux_disk_encryption(block: Path) -> Record:
    crypt = []
    for uuid in block.glob("dm-*/dm/uuid") if block.is_dir() else []:
        try:
            if uuid.read_text(encoding="utf-8").startswith("CRYPT-"):
                crypt.append(uuid.parent.parent.name)
        except OSError:
            continue
    if crypt:
        return _check("disk_encryption", "ok", f"encrypted: {', '.join(sorted(crypt))}")
    return _check("disk_encryption", "warning", "no encrypted volume found")


def linux_firewall(etc: Path) -> Record:
    ufw = etc / "ufw" / "ufw.conf"
    try:
        if "ENABLED=yes" in ufw.read_text(encoding="utf-8"):
            return _check("firewall", "ok", "ufw enabled")
    except OSError:
        pass
    if (etc / "firewalld" / "firewalld.conf").exists():
        return _check("firewall", "unknown", "firewalld installed; state needs systemd")
    return _check("firewall", "unknown", "no ufw or firewalld configuration found")
