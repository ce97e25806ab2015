"""A small real window for the desktop tests: `python tk_app.py FOLDER`.

Shows an entry, a Submit button and a large label. Once drawn it writes the widgets' screen boxes to
FOLDER/geometry.json; Submit writes the entry's text to FOLDER/submitted.txt; Ctrl+S writes
FOLDER/hotkey.txt.
"""

from __future__ import annotations

import json
import sys
import tkinter as tk
from pathlib import Path

BANNER = "HELLO AUTONOMIC 42"


def main(folder: Path) -> None:
    root = tk.Tk()
    root.title("autonomic test app")
    root.geometry("+40+40")
    root.configure(background="white")
    label = tk.Label(
        root, text=BANNER, font=("DejaVu Sans", 28, "bold"), background="white", foreground="black"
    )
    label.pack(padx=20, pady=20)
    entry = tk.Entry(root, width=30, font=("DejaVu Sans", 16))
    entry.pack(padx=20, pady=10)
    button = tk.Button(
        root,
        text="Submit",
        font=("DejaVu Sans", 18),
        width=10,
        command=lambda: (folder / "submitted.txt").write_text(entry.get(), encoding="utf-8"),
    )
    button.pack(padx=20, pady=20)
    root.bind_all("<Control-s>", lambda _: (folder / "hotkey.txt").write_text("ctrl+s", encoding="utf-8"))

    def report() -> None:
        root.update_idletasks()
        boxes = {
            name: {
                "x": w.winfo_rootx(),
                "y": w.winfo_rooty(),
                "width": w.winfo_width(),
                "height": w.winfo_height(),
            }
            for name, w in (("label", label), ("entry", entry), ("button", button))
        }
        partial = folder / "geometry.json.partial"
        partial.write_text(json.dumps(boxes), encoding="utf-8")
        partial.replace(folder / "geometry.json")

    root.after(300, report)
    root.mainloop()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
