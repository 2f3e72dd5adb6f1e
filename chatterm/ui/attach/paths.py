"""Paths as people type and paste them: what a pasted text names, and Tab completion.

Pure Python (no Textual), so both are unit-tested without an app.

Terminals paste a file dropped on them as its path, in their own spelling: quoted
('/tmp/my shot.png'), with backslash-escaped spaces (/tmp/my\\ shot.png), or as a
file:// URL with %-escapes (file:///tmp/my%20shot.png). Several files dropped at once
come as several such words on one line. `pasted_paths` undoes each spelling and says
which paths they name, only when every one of them is an existing file: a paste that is
prose, code or a path to nothing is left alone.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from urllib.parse import unquote, urlsplit

# A dropped file's path is short; a longer paste is text, and is not looked at further.
MAX_PASTED_PATH = 4096
# Several files dropped at once: more than this many words is prose.
MAX_PASTED_FILES = 10


def _one_path(word: str) -> str | None:
    """`word` (one shell word, quotes already undone) as a filesystem path, or None."""
    if word.startswith("file://"):
        parts = urlsplit(word)
        if parts.netloc not in ("", "localhost"):
            return None  # a file on another host: not one we can read
        return unquote(parts.path) or None
    if word.startswith(("/", "~", "./", "../")) or (len(word) > 2 and word[1:3] == ":\\"):
        return os.path.expanduser(word)
    return None


def pasted_paths(text: str, *, is_file: object = None) -> list[Path]:
    """The existing files `text` names as pasted paths, or [] when it is anything else.

    `is_file` (a callable taking a Path) is for tests; by default `Path.is_file`.
    """
    check = is_file if callable(is_file) else Path.is_file
    text = text.strip()
    if not text or len(text) > MAX_PASTED_PATH or "\n" in text or "\r" in text:
        return []
    # One path with bare spaces (some terminals paste a dropped file unescaped).
    whole = _one_path(text)
    if whole is not None and " " in whole and check(Path(whole)):
        return [Path(whole)]
    try:
        words = shlex.split(text)
    except ValueError:  # an unmatched quote: not a pasted path
        return []
    if not words or len(words) > MAX_PASTED_FILES:
        return []
    paths: list[Path] = []
    for word in words:
        path = _one_path(word)
        if path is None or not check(Path(path)):
            return []
        paths.append(Path(path))
    return paths


def complete(text: str) -> tuple[str, list[str]]:
    """Tab in the path field, as a shell does it: (the text completed as far as every
    match agrees, the matching names). A single folder gets its "/" so the next Tab goes
    inside; `~` is expanded for the lookup but kept as typed."""
    if text == "~":
        return "~/", []
    head, _sep, partial = text.rpartition("/")
    folder_typed = head + "/" if _sep else ""
    folder = Path(os.path.expanduser(folder_typed or "."))
    try:
        names = sorted(entry.name for entry in os.scandir(folder)
                       if entry.name.startswith(partial)
                       and (partial.startswith(".") or not entry.name.startswith(".")))
    except OSError:
        return text, []
    if not names:
        return text, []
    common = os.path.commonprefix(names)  # noqa: RUF071 (names, not paths: a shell's Tab)
    completed = folder_typed + common
    if len(names) == 1 and (folder / names[0]).is_dir():
        completed += "/"
    return completed, names
