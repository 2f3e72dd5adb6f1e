"""Where chatterm keeps its files. Pure functions: nothing is created on import."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "chatterm"


def _override(var: str) -> Path | None:
    value = os.environ.get(var, "").strip()
    return Path(value).expanduser() if value else None


def config_file() -> Path:
    """The config file: $CHATTERM_CONFIG or config.toml in the platform config dir."""
    override = _override("CHATTERM_CONFIG")
    if override is not None:
        return override
    from platformdirs import user_config_path

    return user_config_path(APP_NAME) / "config.toml"


def config_dir() -> Path:
    return config_file().parent


def user_themes_dir() -> Path:
    return config_dir() / "themes"


def user_roles_dir() -> Path:
    """Saved roles, one TOML file each (chatterm.roles), beside the config like themes/."""
    return config_dir() / "roles"


def data_dir() -> Path:
    override = _override("CHATTERM_DATA_DIR")
    if override is not None:
        return override
    from platformdirs import user_data_path

    return user_data_path(APP_NAME)


def cache_dir() -> Path:
    override = _override("CHATTERM_CACHE_DIR")
    if override is not None:
        return override
    from platformdirs import user_cache_path

    return user_cache_path(APP_NAME)


def mcp_log_dir() -> Path:
    """Where each MCP server's stderr goes (NAME.log): never the terminal."""
    return cache_dir() / "mcp-logs"


def database_file() -> Path:
    return data_dir() / "chatterm.db"


def screen_state_file() -> Path:
    """How the app's screen was left (chatterm.screen_state)."""
    return data_dir() / "screen-state.json"
