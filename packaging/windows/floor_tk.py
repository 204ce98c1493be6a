"""The floor for start time: a Tk window and nothing else, built like the real exe.

``bench/windows_bench.py`` times it beside ``zvk-quicksupport.exe``: what it
takes is Wine's own start, the one-file unpack of Python and Tcl/Tk, and Tk's
first window; what the real exe takes beyond it is ours.  It reports a
``Password:`` line the way the real exe does, to ``ZVKDIAG_OUTPUT_FILE``.
"""

from __future__ import annotations

import os
import tkinter as tk


def main() -> None:
    root = tk.Tk()
    root.title("ZVK Fernwartung (floor)")
    tk.Label(root, text="ID: 000 000 000").pack(padx=40, pady=20)
    output = os.environ.get("ZVKDIAG_OUTPUT_FILE")
    if output:
        with open(output, "a", encoding="utf-8") as stream:
            stream.write("ID: 000 000 000\nPassword: floor\n")
    root.mainloop()


if __name__ == "__main__":
    main()
