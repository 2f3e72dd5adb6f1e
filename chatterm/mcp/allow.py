"""`always_allow`: a tool the user said "always" for, saved in the config file.

Written through the one config editor (chatterm.config.edit), so the user's comments,
order and quoting stay as they were and a file that would not load is never written.
"""

from __future__ import annotations

from pathlib import Path

from chatterm.config.edit import edit_file
from chatterm.config.load import read_toml


def save_always_allow(path: Path, server: str, tool: str) -> None:
    """Add `tool` to [mcp.servers.SERVER] always_allow in the file at `path` (kept as it
    was when it is there already); ConfigError with one line when it cannot be."""
    data = read_toml(path) or {}
    table = data.get("mcp", {}).get("servers", {}).get(server, {})
    have = table.get("always_allow", []) if isinstance(table, dict) else []
    names = [name for name in have if isinstance(name, str)] if isinstance(have, list) else []
    if tool in names:
        return
    edit_file(path, [(["mcp", "servers", server, "always_allow"], [*names, tool])])
