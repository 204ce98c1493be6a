"""Windows parsers on recorded outputs of reg export, wevtutil, w32tm and PowerShell JSON."""

from __future__ import annotations

import datetime as dt

import pytest

from zvkdiag.probes.base import record_problems
from zvkdiag.probes.eventlog import EventLogProbe, parse_wevtutil_xml, wevtutil_query
from zvkdiag.probes.network import NetworkConfigProbe, adapters_from_cim
from zvkdiag.probes.printers import PrintersProbe, printers_from_cim
from zvkdiag.probes.security import (
    SecurityPostureProbe,
    antivirus_checks,
    decode_av_state,
    firewall_checks,
    registry_checks,
)
from zvkdiag.probes.services import (
    AutostartProbe,
    ServicesProbe,
    autostart_from_registry,
    command_executable,
    services_from_cim,
)
from zvkdiag.probes.software import (
    UNINSTALL_KEYS,
    RebootPendingProbe,
    SoftwareProbe,
    UpdatesProbe,
    hotfixes_from_cim,
    reboot_indicators_from_registry,
    software_from_uninstall,
)
from zvkdiag.probes.system import HardwareProbe, hardware_from_cim, os_from_registry
from zvkdiag.probes.timesync import parse_w32tm_status
from zvkdiag.probes.winformats import (
    long_key,
    parse_ps_datetime,
    parse_reg_export,
    ps_records,
    reg_subkeys,
    reg_values,
)

from .recordings import recorded, recorded_reg

UTC = dt.UTC
BERLIN_WINTER = dt.timezone(dt.timedelta(hours=1))
HKLM_UNINSTALL = next(iter(UNINSTALL_KEYS))


def test_reg_export_value_kinds() -> None:
    tree = recorded_reg("uninstall_hklm.reg")
    zip_values = reg_subkeys(tree, HKLM_UNINSTALL)["7-Zip"]
    assert zip_values["EstimatedSize"] == 0x15B4
    assert zip_values["UninstallString"] == '"C:\\Program Files\\7-Zip\\Uninstall.exe"'
    portal = reg_subkeys(tree, HKLM_UNINSTALL)["{23170F69-40C1-2702-2301-000001000000}"]
    assert portal["ModifyPath"] == "MsiExec.exe /I{23170F69}"  # hex(2) across continuation lines
    session = reg_values(
        recorded_reg("reboot_pending.reg"), r"HKLM\SYSTEM\CurrentControlSet\Control\Session Manager"
    )
    assert session is not None
    assert session["BootExecute"] == ["autocheck autochk *"]
    assert session["PendingFileRenameOperations"] == [r"\??\C:\Temp\a.dll", r"\??\C:\Temp\b.dll"]


def test_reg_export_binary_default_and_qword() -> None:
    text = (
        "Windows Registry Editor Version 5.00\n\n[HKEY_CURRENT_USER\\X]\n"
        '@="standard"\n"Q"=hex(b):01,00,00,00,00,00,00,00\n"B"=hex:de,ad\n'
    )
    values = reg_values(parse_reg_export(text), r"HKCU\X")
    assert values == {"": "standard", "Q": 1, "B": b"\xde\xad"}
    assert long_key(r"hklm\Software") == r"HKEY_LOCAL_MACHINE\Software"


def test_software_from_uninstall_keeps_what_apps_and_features_shows() -> None:
    rows = list(
        software_from_uninstall(
            recorded_reg("uninstall_hklm.reg"), HKLM_UNINSTALL, "registry-machine"
        )
    )
    by_name = {r["name"]: r for r in rows}
    assert sorted(by_name) == [
        "7-Zip 23.01 (x64)",
        "Microsoft Edge",
        "ZVK Versichertenportal Client",
    ]
    portal = by_name["ZVK Versichertenportal Client"]
    assert portal["install_date"] == dt.datetime(2024, 3, 8, tzinfo=UTC)
    assert portal["size_bytes"] == 0xA2C8 * 1024
    assert by_name["7-Zip 23.01 (x64)"]["install_date"] is None
    assert all(record_problems(SoftwareProbe, r) == [] for r in rows)


def test_reboot_pending_indicators() -> None:
    pending = {
        r["indicator"]: r
        for r in reboot_indicators_from_registry(recorded_reg("reboot_pending.reg"))
    }
    assert pending["component-servicing"]["pending"] is True
    assert pending["windows-update"]["pending"] is False
    assert pending["file-rename-operations"] == {
        "indicator": "file-rename-operations", "pending": True, "detail": "2 entries",
    }  # fmt: skip
    clean = list(reboot_indicators_from_registry(recorded_reg("reboot_clean.reg")))
    assert [r["pending"] for r in clean] == [False, False, False]
    assert all(record_problems(RebootPendingProbe, r) == [] for r in clean)


def test_os_version_corrects_windows_11_name() -> None:
    info = os_from_registry(recorded_reg("windows_nt_currentversion.reg"))
    assert info == {
        "name": "Windows 11 Pro",
        "version": "23H2",
        "build": "22631.3255",
        "edition": "Professional",
    }


def test_autostart_without_arguments_and_with_task_manager_state() -> None:
    rows = list(autostart_from_registry(recorded_reg("autostart.reg")))
    by_name = {r["name"]: r for r in rows}
    assert by_name["OneDrive"]["executable"].endswith("\\OneDrive\\OneDrive.exe")
    assert by_name["OneDrive"]["enabled"] is True
    assert by_name["Teams"]["enabled"] is False
    assert by_name["BackupSync"]["executable"] == "C:\\Tools\\backupsync.exe"
    assert (
        by_name["SecurityHealth"]["executable"] == "%windir%\\system32\\SecurityHealthSystray.exe"
    )
    assert by_name["Adobe Acrobat Synchronizer"]["location"] == "run-key-32bit"
    assert by_name["Uninstall 24.002.0111.0001"]["location"] == "runonce-key"
    assert by_name["OneDrive"]["scope"] == "user"
    assert "Hunter2Secret!" not in repr(rows)
    assert all(record_problems(AutostartProbe, r) == [] for r in rows)


@pytest.mark.parametrize(
    ("command", "exe"),
    [
        ('"C:\\Program Files\\X\\x.exe" --token abc', "C:\\Program Files\\X\\x.exe"),
        ("C:\\Program Files\\Y\\y.EXE /quiet", "C:\\Program Files\\Y\\y.EXE"),
        ("/usr/bin/nm-applet --indicator", "/usr/bin/nm-applet"),
        ("", None),
    ],
)
def test_command_executable(command: str, exe: str | None) -> None:
    assert command_executable(command) == exe


def test_wevtutil_rendered_events_are_redacted() -> None:
    rows = list(parse_wevtutil_xml(recorded("wevtutil_system_rendered.xml")))
    assert [r["event_id"] for r in rows] == [41, 7000, 129]
    assert [r["level"] for r in rows] == ["critical", "error", "warning"]
    assert rows[0]["time"] == dt.datetime(2024, 3, 14, 7, 58, 12, 497015, tzinfo=UTC)
    assert rows[1]["source"] == "Service Control Manager"
    assert rows[1]["message"].startswith('Der Dienst "ZVK Sync Dienst" wurde')
    assert "Hunter2Secret!" not in rows[2]["message"]
    assert "Winter2024!" not in rows[2]["message"]
    assert "password=***" in rows[2]["message"]
    assert all(record_problems(EventLogProbe, r) == [] for r in rows)


def test_wevtutil_plain_xml_falls_back_to_event_data() -> None:
    rows = list(parse_wevtutil_xml(recorded("wevtutil_application_xml.xml")))
    assert rows[0]["log"] == "Application"
    assert (
        rows[0]["message"]
        == "OUTLOOK.EXE; 16.0.17328.20162; 65e0f9a1; mso20win32client.dll; 0.0.0.0; c0000005"
    )
    assert rows[1]["message"] == "Info=Anmeldung verzögert"
    assert list(parse_wevtutil_xml(recorded("wevtutil_empty.xml"))) == []
    assert "timediff(@SystemTime) <= 86400000" in wevtutil_query(24)


def test_w32tm_german_and_english() -> None:
    de = parse_w32tm_status(recorded("w32tm_status_de.txt"), local_tz=BERLIN_WINTER)
    assert de == {
        "source": "dc01.zvk.local",
        "synchronized": True,
        "stratum": 4,
        "offset_seconds": 0.0001432,
        "last_sync": dt.datetime(2024, 3, 14, 8, 12, 44, tzinfo=UTC),
        "poll_interval_seconds": 1024,
    }
    en = parse_w32tm_status(recorded("w32tm_status_en.txt"), local_tz=BERLIN_WINTER)
    assert en["source"] == "time.windows.com"
    assert en["last_sync"] == dt.datetime(2024, 3, 14, 8, 12, 44, tzinfo=UTC)
    assert en["offset_seconds"] == -0.002341
    cmos = parse_w32tm_status(recorded("w32tm_status_cmos_de.txt"), local_tz=BERLIN_WINTER)
    assert cmos["synchronized"] is False
    assert cmos["last_sync"] is None


def test_hardware_from_cim() -> None:
    row = hardware_from_cim(ps_records(recorded("hardware_cim.json"))[0])
    assert row["model"] == "20XWCTO1WW"
    assert row["memory_total_bytes"] == 16889815040
    assert row["cpu_cores_logical"] == 8
    assert row["cpu_max_mhz"] == 1498.0
    assert record_problems(HardwareProbe, row) == []


def test_services_from_cim() -> None:
    rows = list(services_from_cim(ps_records(recorded("services_cim.json"))))
    assert [r["state"] for r in rows] == [
        "running",
        "stopped",
        "start pending",
        "stopped",
        "stopped",
    ]
    assert rows[0]["pid"] == 2812
    assert rows[1]["pid"] is None  # 0 means "not running", not a process id
    assert rows[4]["start_mode"] == "disabled"
    assert all(record_problems(ServicesProbe, r) == [] for r in rows)


def test_hotfixes_use_us_dates_and_skip_placeholders() -> None:
    rows = list(hotfixes_from_cim(ps_records(recorded("hotfix_cim.json"))))
    assert [r["id"] for r in rows] == ["KB5034467", "KB5035853", "KB5012170"]
    assert rows[1]["date"] == dt.datetime(2024, 3, 13, tzinfo=UTC)
    assert rows[2]["date"] is None
    assert all(record_problems(UpdatesProbe, r) == [] for r in rows)


def test_single_object_json_and_adapters() -> None:
    items = ps_records(recorded("network_adapters_cim.json"))
    assert len(items) == 1  # ConvertTo-Json writes a lone object without a list
    rows = list(adapters_from_cim(items))
    assert [(r["kind"], r["address"], r["family"]) for r in rows] == [
        ("gateway", "192.0.2.1", "ipv4"),
        ("gateway", "fe80::1", "ipv6"),
        ("dns_server", "192.0.2.1", "ipv4"),
    ]
    assert rows[0]["dhcp"] is True
    assert all(record_problems(NetworkConfigProbe, r) == [] for r in rows)
    assert ps_records("") == []


def test_security_posture_from_recordings() -> None:
    assert decode_av_state(397568) == (True, True)
    av = list(antivirus_checks(ps_records(recorded("antivirus_cim.json"))))
    assert [r["status"] for r in av] == ["problem", "warning"]
    assert av[1]["detail"] == "ESET Security: on, signatures out of date"
    fw = list(firewall_checks(ps_records(recorded("firewall_profiles.json"))))
    assert [(r["check"], r["status"]) for r in fw] == [
        ("firewall:domain", "ok"), ("firewall:private", "ok"), ("firewall:public", "problem"),
    ]  # fmt: skip
    reg = {r["check"]: r["status"] for r in registry_checks(recorded_reg("security.reg"))}
    assert reg == {"uac": "ok", "secure_boot": "warning", "automatic_updates": "ok"}
    assert next(iter(antivirus_checks([])))["status"] == "problem"
    assert all(record_problems(SecurityPostureProbe, r) == [] for r in av + fw)


def test_printers_from_cim_masks_port_credentials() -> None:
    rows = list(printers_from_cim(ps_records(recorded("printers_cim.json"))))
    assert [r["is_default"] for r in rows] == [False, True, False]
    assert rows[2]["status"] == "offline"
    assert rows[2]["port"] == "smb://***@printsrv01/Etage2-Farbe"
    assert all(record_problems(PrintersProbe, r) == [] for r in rows)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/Date(1710403964000)/", dt.datetime(2024, 3, 14, 8, 12, 44, tzinfo=UTC)),
        (
            {"value": "/Date(1710403964000)/", "DisplayHint": 2},
            dt.datetime(2024, 3, 14, 8, 12, 44, tzinfo=UTC),
        ),
        ("2024-03-14T09:12:44+01:00", dt.datetime(2024, 3, 14, 8, 12, 44, tzinfo=UTC)),
        ("20240314091244.000000+060", dt.datetime(2024, 3, 14, 8, 12, 44, tzinfo=UTC)),
        ("1601-01-01T00:00:00Z", None),
        ("not a date", None),
        (None, None),
    ],
)
def test_parse_ps_datetime(value: object, expected: dt.datetime | None) -> None:
    assert parse_ps_datetime(value) == expected
