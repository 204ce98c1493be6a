"""A Tk text field for the control tests: focus on start, prints its text on request.

stdin lines: "text" prints the field's content (repr, one line); "clear" empties it;
"wheel" prints how many wheel steps up and down (X buttons 4 and 5) the field got.
Prints "shown" once the window is up and the field has focus.
"""

import sys
import tkinter as tk

root = tk.Tk()
root.geometry("600x300+0+0")
field = tk.Text(root, width=60, height=10)
field.pack(fill="both", expand=True)
wheel = {"up": 0, "down": 0}
field.bind("<Button-4>", lambda _e: wheel.update(up=wheel["up"] + 1), add="+")
field.bind("<Button-5>", lambda _e: wheel.update(down=wheel["down"] + 1), add="+")


def command() -> None:
    line = sys.stdin.readline().strip()
    if line == "text":
        print(repr(field.get("1.0", "end-1c")), flush=True)
    elif line == "clear":
        field.delete("1.0", "end")
        print("cleared", flush=True)
    elif line == "wheel":
        print(wheel["up"], wheel["down"], flush=True)
    elif line == "":
        root.destroy()


root.tk.createfilehandler(sys.stdin, tk.READABLE, lambda *_: command())
root.update()
field.focus_force()
root.after(200, lambda: print("shown", flush=True))
root.mainloop()
