"""PyInstaller hook for ``_tkinter``: PyInstaller's own, minus Tcl/Tk data the window never reads.

A hook in ``--additional-hooks-dir`` is found before PyInstaller's and replaces
it.  This one adds the same files (``tcltk_info.data_files``) except:

- ``tzdata`` and Tcl's ``msgs``: only ``clock format`` with named zones or
  localised month names reads them, and the program never calls ``clock``;
- the multi-byte East Asian encodings (Tcl reads an encoding file only when a
  string is converted to or from it; the window's text is Unicode and the
  system encodings of Western Windows are single-byte ``cp125x``);
- Tk's demo images and Tcl's ``tcltest`` module.

``tests/windows/test_exe_build.py`` checks that the exe holds none of them
and still holds what the window needs (``init.tcl``, ``tk.tcl``, ``cp1252``).
"""

from __future__ import annotations

import fnmatch

from PyInstaller.utils.hooks.tcl_tk import tcltk_info

# Destination paths inside the bundle, "/"-separated
DROP = (
    "_tcl_data/tzdata/*",
    "_tcl_data/msgs/*",
    "_tk_data/images/*",
    "tcl8/*/tcltest-*",
    *(
        f"_tcl_data/encoding/{name}.enc"
        for name in (
            "big5",
            "cns11643",
            "cp932",
            "cp936",
            "cp949",
            "cp950",
            "euc-*",
            "gb*",
            "iso2022*",
            "jis*",
            "ksc5601",
            "shiftjis",
        )
    ),
)


def _dropped(dest: str) -> bool:
    path = dest.replace("\\", "/")
    return any(fnmatch.fnmatch(path, pattern) for pattern in DROP)


def hook(hook_api):  # type: ignore[no-untyped-def]
    if tcltk_info.tcl_data_missing:
        raise SystemExit(f"ERROR: Tcl data directory ({tcltk_info.tcl_data_dir!r}) is missing")
    if tcltk_info.tk_data_missing:
        raise SystemExit(f"ERROR: Tk data directory ({tcltk_info.tk_data_dir!r}) is missing")
    hook_api.add_datas([entry for entry in tcltk_info.data_files if not _dropped(entry[0])])
