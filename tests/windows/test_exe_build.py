"""The built exe as a file: a GUI program that asks for no rights, signed and verified.

Signing uses a throwaway certificate authority made here; how ZVK signs releases
with its real certificate is in docs/windows.md.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path
from typing import Final

import pytest
import trustme

pytestmark = [pytest.mark.wine, pytest.mark.timeout(1800)]

IMAGE_SUBSYSTEM_WINDOWS_GUI: Final = 2
IMAGE_FILE_MACHINE_AMD64: Final = 0x8664


def pe_header(data: bytes) -> tuple[int, int]:
    """(machine, subsystem) from a PE file's headers."""
    assert data[:2] == b"MZ"
    (pe,) = struct.unpack_from("<I", data, 0x3C)
    assert data[pe : pe + 4] == b"PE\0\0"
    (machine,) = struct.unpack_from("<H", data, pe + 4)
    (subsystem,) = struct.unpack_from("<H", data, pe + 24 + 68)  # optional header + 68
    return machine, subsystem


def test_exe_is_a_64_bit_gui_program_running_as_invoker(exe: Path) -> None:
    data = exe.read_bytes()
    machine, subsystem = pe_header(data)
    assert machine == IMAGE_FILE_MACHINE_AMD64
    assert subsystem == IMAGE_SUBSYSTEM_WINDOWS_GUI  # no console window
    assert b'level="asInvoker"' in data  # the manifest: no UAC prompt, no admin rights
    assert b"requireAdministrator" not in data
    print(f"exe size: {len(data) / 1e6:.1f} MB")


def test_stand_in_dlls_stay_in_the_test_prefix(exe: Path) -> None:
    """The Wine prefix's stand-ins must never be bundled: real Windows has its own DLLs."""
    data = exe.read_bytes()
    # the bundle's table of contents names every file in clear text
    assert b"ucrtwine" not in data
    assert b"bcryptprimitives.dll\0" not in data
    assert b"ucrtbase.dll\0" not in data


def test_exe_leaves_out_what_the_customer_program_never_reads(exe: Path) -> None:
    """Pillow, numpy's unused parts and Tcl data the window never reads are not bundled
    (packaging/windows/build.py's EXCLUDES, packaging/windows/hooks/hook-_tkinter.py)."""
    data = exe.read_bytes()
    # the bundle's table of contents names every file in clear text
    for kept in (b"_tcl_data\\init.tcl", b"_tk_data\\tk.tcl", b"cp1252.enc", b"libcrypto"):
        assert kept in data, kept
    assert b"numpy\\_core\\_multiarray_umath" in data
    for left_out in (
        b"PIL\\_imaging",
        b"numpy\\random\\",
        b"_tcl_data\\tzdata\\",
        b"_tcl_data\\msgs\\",
        b"_tk_data\\images\\",
        b"cp932.enc",
        b"big5.enc",
    ):
        assert left_out not in data, left_out


def _certificate_pair(tmp: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate it issued (trustme's carry code signing among their
    extended key usages): (ca.pem, cert.pem, key.pem)."""
    ca = trustme.CA(organization_name="zvkdiag test signing")
    leaf = ca.issue_cert("codesign.zvk.test")
    paths = tmp / "ca.pem", tmp / "cert.pem", tmp / "key.pem"
    ca.cert_pem.write_to_path(str(paths[0]))
    leaf.cert_chain_pems[0].write_to_path(str(paths[1]))
    leaf.private_key_pem.write_to_path(str(paths[2]))
    return paths


def _verify(exe: Path, ca: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["osslsigncode", "verify", "-CAfile", str(ca), "-in", str(exe)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_signed_exe_verifies_and_a_changed_one_does_not(exe: Path, tmp_path: Path) -> None:
    if shutil.which("osslsigncode") is None:
        pytest.skip("needs osslsigncode (scripts/install-system.sh)")
    ca, cert, key = _certificate_pair(tmp_path)
    signed = tmp_path / "signed.exe"
    subprocess.run(
        [
            "osslsigncode", "sign", "-certs", str(cert), "-key", str(key), "-h", "sha256",
            "-n", "ZVK Fernwartung", "-in", str(exe), "-out", str(signed),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    assert _verify(exe, ca).returncode != 0, "the unsigned exe must not verify"
    done = _verify(signed, ca)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Signature verification: ok" in done.stdout
    # one byte changed in the signed file's body: the signature no longer holds
    tampered = tmp_path / "tampered.exe"
    data = bytearray(signed.read_bytes())
    data[len(data) // 3] ^= 0xFF
    tampered.write_bytes(bytes(data))
    assert _verify(tampered, ca).returncode != 0
