"""The secrets rules, case by case."""

from __future__ import annotations

import pytest

from zvkdiag.probes.redact import (
    ENV_ALLOWLIST,
    executable_name,
    read_allowed_env,
    redact_argv,
    redact_text,
)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("login failed, password=Hunter2 for user max", "Hunter2"),
        ("Kennwort: Sommer2024", "Sommer2024"),
        ("pwd:abc123xyz", "abc123xyz"),
        ('{"api_key": "sk-live-9f8e7d"}', "sk-live-9f8e7d"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
        ("proxy http://svc:Winter2024!@proxy.local:8080 down", "Winter2024!"),
        ("token=0123456789abcdef0123456789abcdef01234567", "0123456789abcdef"),
        ("client_secret='q1w2e3r4'", "q1w2e3r4"),
        (
            "blob 4fG7hK2mN9pQ3rS6tV8wX1yZ5aB0cD4eF7gH2jK9mN3pQ6 end",
            "4fG7hK2mN9pQ3rS6tV8wX1yZ5aB0cD4eF7gH2jK9mN3pQ6",
        ),
    ],
)
def test_redact_text_removes_secret(text: str, secret: str) -> None:
    out = redact_text(text)
    assert secret not in out
    assert "***" in out


@pytest.mark.parametrize(
    "text",
    [
        "Der Dienst wurde erfolgreich gestartet.",
        "C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE",
        "/usr/lib/x86_64-linux-gnu/libreoffice/program/soffice.bin",
        "{23170F69-40C1-2702-2301-000001000000}",
    ],
)
def test_redact_text_leaves_ordinary_text(text: str) -> None:
    assert redact_text(text) == text


def test_argv_dropped_by_default() -> None:
    argv = ["/usr/bin/python3", "-c", "x", "--password=SECRET123"]
    assert redact_argv(argv) == "python3"
    assert redact_argv(["C:\\Tools\\sync.exe", "/pwd", "x"]) == "sync.exe"
    assert redact_argv([]) == ""


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["sync", "--password", "S3cret", "--verbose"], "sync --password *** --verbose"),
        (["sync", "--password=S3cret"], "sync --password=***"),
        (["sync.exe", "/token:abc", "/quiet"], "sync.exe /token=*** /quiet"),
        (["mysql", "-u", "root", "--pass", "x1"], "mysql -u root --pass ***"),
        (["curl", "https://u:p4ss@host/x"], "curl https://***@host/x"),
        (["prog", "db_password=abc"], "prog db_password=***"),
    ],
)
def test_argv_with_arguments_masks_secret_values(argv: list[str], expected: str) -> None:
    assert redact_argv(argv, keep_args=True) == expected


def test_executable_name_for_both_path_styles() -> None:
    assert executable_name('"C:\\Program Files\\X\\x.exe"') == "x.exe"
    assert executable_name("/usr/sbin/sshd") == "sshd"
    assert executable_name("bash") == "bash"


class ReadRecorder(dict[str, str]):
    """A real mapping that remembers which keys were looked up (to prove others never are)."""

    def __init__(self, data: dict[str, str]) -> None:
        super().__init__(data)
        self.read: list[str] = []

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.read.append(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.append(key)
        return super().__getitem__(key)


def test_env_values_outside_allowlist_are_never_read() -> None:
    environ = ReadRecorder(
        {"PATH": "/usr/bin", "ZVK_TOKEN": "tok-123", "HTTPS_PROXY": "http://u:pw@proxy:3128"}
    )
    values = read_allowed_env(environ)
    assert values == {"PATH": "/usr/bin", "HTTPS_PROXY": "http://***@proxy:3128"}
    assert "ZVK_TOKEN" not in environ.read
    assert set(environ.read) <= ENV_ALLOWLIST


def test_env_windows_spellings_of_one_variable_give_one_row() -> None:
    class CaseInsensitive(dict[str, str]):
        def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
            return super().get(key.upper(), default)

    values = read_allowed_env(CaseInsensitive({"PATH": "C:\\Windows"}))
    assert list(values.values()) == ["C:\\Windows"]
