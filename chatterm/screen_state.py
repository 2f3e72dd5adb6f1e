"""What the app remembers between runs that is not configuration: how the screen was left.

`chatterm` reopens the screen as it was last used. Today that is whether the saved-chats
sidebar was open. The file is small JSON in the data dir, written whole and atomically;
a missing file means a first run, and a damaged one is reported in one line and replaced
by defaults, never a reason not to start.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from chatterm.errors import ChattermError


@dataclass(slots=True)
class ScreenState:
    sidebar: bool = False

    def to_json(self) -> str:
        return json.dumps({"sidebar": self.sidebar}) + "\n"


def load_screen_state(path: Path | None = None) -> tuple[ScreenState, str | None]:
    """The remembered state, and a one-line problem when the file could not be used."""
    if path is None:
        from chatterm.locations import screen_state_file

        path = screen_state_file()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ScreenState(), None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return ScreenState(), f"cannot read {path} ({reason}); the screen starts as on a first run"
    try:
        data = json.loads(text)
    except ValueError:
        return ScreenState(), f"{path} is not valid JSON; the screen starts as on a first run"
    if not isinstance(data, dict):
        return ScreenState(), f"{path} is not a JSON object; the screen starts as on a first run"
    sidebar = data.get("sidebar", False)
    if not isinstance(sidebar, bool):
        return ScreenState(), f"{path}: sidebar must be true or false; it starts hidden"
    return ScreenState(sidebar=sidebar), None


def save_screen_state(state: ScreenState, path: Path | None = None) -> str | None:
    """Write `state`; returns a one-line problem instead of raising."""
    from chatterm.locations import screen_state_file
    from chatterm.safe_write import ensure_private_dir, write_text

    path = path if path is not None else screen_state_file()
    try:
        ensure_private_dir(path.parent)
        write_text(path, state.to_json())
    except OSError as exc:
        return f"cannot save the screen layout to {path}: {exc.strerror or exc}"
    except ChattermError as exc:
        return f"cannot save the screen layout: {exc.message}"
    return None
