"""An editor for the tests of Ctrl+E and `ask -e` ($EDITOR = python tests/fake_editor.py).

It records how it was called in $EDITOR_RECORD (its arguments, the text it found, the
file's and folder's modes, whether its stdin and stdout are a terminal), writes
$EDITOR_WRITES into the file (or leaves it as it was) and exits with $EDITOR_EXIT.
With $EDITOR_ASKS set it is interactive, for the tmux tests: it clears the screen, shows
"FAKE-EDITOR #N: " (N counts its runs, in $EDITOR_RECORD.runs) and the file's first line,
and reads a line from the terminal: "fail" exits with status 3, anything else is written
to the file. The count is there because the shell's screen keeps what the last run
printed: the app's next suspension shows it again before this run has started.
"""

import json
import os
import stat
import sys
from pathlib import Path

path = sys.argv[-1]
with open(path, encoding="utf-8") as file:
    text = file.read()
record = {
    "argv": sys.argv[1:], "text": text, "name": os.path.basename(path),
    "mode": stat.S_IMODE(os.stat(path).st_mode),
    "folder_mode": stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode),
    "tty": os.isatty(0) and os.isatty(1),
}
with open(os.environ["EDITOR_RECORD"], "w", encoding="utf-8") as file:
    json.dump(record, file)
if os.environ.get("EDITOR_ASKS"):
    runs_path = Path(os.environ["EDITOR_RECORD"] + ".runs")
    runs = int(runs_path.read_text()) + 1 if runs_path.exists() else 1
    runs_path.write_text(str(runs))
    print("\x1b[2J\x1b[H" + "~\n" * 5 + f"FAKE-EDITOR #{runs}: " + text.split("\n")[0],
          flush=True)
    line = sys.stdin.readline().rstrip("\n")
    if line == "fail":
        sys.exit(3)
    os.environ["EDITOR_WRITES"] = line + "\n"
if "EDITOR_WRITES" in os.environ:
    with open(path, "w", encoding="utf-8") as file:
        file.write(os.environ["EDITOR_WRITES"])
sys.exit(int(os.environ.get("EDITOR_EXIT", "0")))
