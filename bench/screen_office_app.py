"""The windows of scenario B (``screen_office.py``): a form, a table, an animation.

``python screen_office_app.py FIFO``: reads ``table on|off``, ``anim on|off`` and
``blink on|off`` (the text cursor) lines from FIFO.  The table's numbers and the
animation's picture depend on their tick count only, so every run draws the same
pictures.
"""

from __future__ import annotations

import math
import queue
import sys
import threading
import time
import tkinter as tk
from typing import Final

ROWS: Final = 14
COLS: Final = 6
TABLE_PERIOD: Final = 0.2
ANIM_PERIOD: Final = 0.04
FONT: Final = ("DejaVu Sans", 11)
MONO: Final = ("DejaVu Sans Mono", 11)


def number(tick: int, row: int, col: int) -> str:
    value = (tick * 7919 + row * 104729 + col * 1299709) % 1000003
    return f"{value / 100:10.2f}"


class Office:
    def __init__(self, root: tk.Tk, commands: queue.Queue[str]) -> None:
        self.root = root
        self.commands = commands
        self.table_on = self.anim_on = False
        self.table_tick = self.anim_tick = 0
        self.table_next = self.anim_next = 0.0
        root.title("vb-form")
        root.geometry("+40+40")
        root.configure(bg="#f0f0f0")
        self.inputs: list[tk.Entry | tk.Text] = []
        tk.Label(root, text="Supportanfrage", font=("DejaVu Sans", 16, "bold"), bg="#f0f0f0").grid(
            row=0, column=0, columnspan=2, pady=8, padx=10, sticky="w"
        )
        for i, label in enumerate(("Name", "Firma", "Telefon", "E-Mail")):
            tk.Label(root, text=label, font=FONT, bg="#f0f0f0").grid(
                row=i + 1, column=0, sticky="w", padx=10, pady=4
            )
            entry = tk.Entry(root, font=FONT, width=36)
            self.inputs.append(entry)
            entry.grid(row=i + 1, column=1, padx=10, pady=4)
            if i == 0:
                entry.focus_set()
        tk.Label(root, text="Anliegen", font=FONT, bg="#f0f0f0").grid(
            row=5, column=0, sticky="nw", padx=10, pady=4
        )
        message = tk.Text(root, font=FONT, width=36, height=6)
        message.grid(row=5, column=1, padx=10, pady=4)
        self.inputs.append(message)

        table = tk.Toplevel(root)
        table.title("vb-table")
        table.geometry("+700+40")
        table.configure(bg="white")
        self.cells: list[list[tk.Label]] = []
        for c, head in enumerate(("Konto", "Soll", "Haben", "Saldo", "Budget", "Abw.")):
            tk.Label(table, text=head, font=("DejaVu Sans", 11, "bold"), bg="#dde4ee").grid(
                row=0, column=c, sticky="nsew", padx=1, pady=1
            )
        for r in range(ROWS):
            line = []
            for c in range(COLS):
                cell = tk.Label(table, text=number(0, r, c), font=MONO, bg="white", anchor="e")
                cell.grid(row=r + 1, column=c, sticky="nsew", padx=1, pady=1)
                line.append(cell)
            self.cells.append(line)

        anim = tk.Toplevel(root)
        anim.title("vb-anim")
        anim.geometry("+1400+500")
        self.canvas = tk.Canvas(anim, width=300, height=300, bg="#fafafa", highlightthickness=0)
        self.canvas.pack()
        self.spokes = [
            self.canvas.create_line(0, 0, 0, 0, width=8, capstyle="round") for _ in range(12)
        ]
        self.ball = self.canvas.create_oval(0, 0, 0, 0, fill="#e15759", outline="")
        self.label = self.canvas.create_text(150, 280, text="", font=FONT, fill="#333333")
        self.draw_anim()
        root.after(10, self.poll)

    def poll(self) -> None:
        now = time.monotonic()
        while not self.commands.empty():
            what, state = self.commands.get().split()
            on = state == "on"
            if what == "blink":  # off: the text cursor stays on, the screen settles
                for widget in self.inputs:
                    widget.configure(insertofftime=300 if on else 0)
            elif what == "table":
                self.table_on, self.table_next = on, now
            elif what == "anim":
                self.anim_on, self.anim_next = on, now
        if self.table_on and now >= self.table_next:
            self.table_tick += 1
            self.table_next += TABLE_PERIOD
            for r, line in enumerate(self.cells):
                for c, cell in enumerate(line):
                    cell.configure(text=number(self.table_tick, r, c))
        if self.anim_on and now >= self.anim_next:
            self.anim_tick += 1
            self.anim_next += ANIM_PERIOD
            self.draw_anim()
        self.root.after(5, self.poll)

    def draw_anim(self) -> None:
        tick = self.anim_tick
        for i, spoke in enumerate(self.spokes):
            angle = 2 * math.pi * i / 12
            x0, y0 = 150 + 40 * math.cos(angle), 130 + 40 * math.sin(angle)
            x1, y1 = 150 + 90 * math.cos(angle), 130 + 90 * math.sin(angle)
            shade = 60 + 15 * ((i - tick) % 12)
            self.canvas.coords(spoke, x0, y0, x1, y1)
            self.canvas.itemconfigure(spoke, fill=f"#{shade:02x}{shade:02x}{255:02x}")
        x = 20 + (tick * 9) % 260
        y = 230 - abs(math.sin(tick / 6)) * 40
        self.canvas.coords(self.ball, x, y, x + 16, y + 16)
        self.canvas.itemconfigure(self.label, text=f"Bitte warten ... {tick:04d}")


def read_commands(path: str, commands: queue.Queue[str]) -> None:
    while True:
        with open(path) as fifo:
            for line in fifo:
                if line.strip():
                    commands.put(line.strip())


def main() -> None:
    commands: queue.Queue[str] = queue.Queue()
    threading.Thread(target=read_commands, args=(sys.argv[1], commands), daemon=True).start()
    root = tk.Tk()
    Office(root, commands)
    root.mainloop()


if __name__ == "__main__":
    main()
