"""Never replace a file without asking: the question, and a free name to offer instead.

Export writes atomically with a rename, which would silently replace whatever the path
named. The export dialog asks first when the file exists; keeping the file swaps the
path for the first free "name-2.ext", "name-3.ext", … so one more Enter exports safely.
"""

from __future__ import annotations

import time
from pathlib import Path

from chatterm.ui.dialogs.confirm import ConfirmDialog


def free_path(path: Path, limit: int = 10_000) -> Path:
    """`path` if nothing is there, else the first of stem-2, stem-3, … that is free."""
    if not path.exists() and not path.is_symlink():
        return path
    stem, suffix = path.stem, path.suffix
    # "notes-2.md" offered again goes on to "notes-3.md", not "notes-2-2.md".
    base, _, number = stem.rpartition("-")
    start = 2
    if base and number.isdigit():
        stem, start = base, int(number) + 1
    for index in range(start, start + limit):
        candidate = path.with_name(f"{stem}-{index}{suffix}")
        if not candidate.exists() and not candidate.is_symlink():
            return candidate
    return path  # a folder with 10,000 copies: asking again is all that is left


def _describe(path: Path) -> str:
    try:
        stat = path.stat()
    except OSError:
        return ""
    size = stat.st_size
    amount = f"{size:,} bytes" if size < 10_000 else f"{size / 1024:,.0f} KB"
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(stat.st_mtime))
    return f" ({amount}, changed {when})"


def replace_dialog(path: Path) -> ConfirmDialog:
    """Asks "replace it?"; the focused default (Enter, N, Esc) keeps the file."""
    return ConfirmDialog(
        f"{path.name} already exists in {path.parent}{_describe(path)}. "
        "Replace it with this export?",
        confirm="Replace", cancel="Keep it", danger=True, title="File exists",
    )
