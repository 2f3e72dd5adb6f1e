"""Checking the [mcp] table and its [mcp.servers.NAME] tables into an McpConfig.

Every bad value is one ConfigError line naming its key (`mcp.servers.time.timeout must
be ...`), the same wording as every other key; unknown keys are warnings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chatterm.config.schema import (
    NUMBER_CHECKERS,
    BadValue,
    Checker,
    check_bool,
    check_headers,
    check_number,
    check_str,
    check_timeout,
    check_url,
    need,
    type_name,
)
from chatterm.errors import ConfigError
from chatterm.mcp.config import McpConfig, McpServerConfig

SERVER_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
# Keys that belong to one transport only: a stdio server has no url, an HTTP one no
# process to give args, env or cwd to.
STDIO_ONLY = ("args", "env", "cwd")
HTTP_ONLY = ("headers",)


def _check_rounds(value: Any) -> int:
    number = _int(value)
    if not 1 <= number <= 1000:
        raise BadValue("must be an integer from 1 up to 1000")
    return number


def _check_result_bytes(value: Any) -> int:
    number = _int(value)
    # Below a kilobyte a result is cut to nothing useful; above 100 MB it is a typo.
    if not 1000 <= number <= 100_000_000:
        raise BadValue("must be an integer from 1000 up to 100000000 (bytes)")
    return number


NUMBER_CHECKERS.update((_check_rounds, _check_result_bytes))  # `config set` parses a number


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise need("an integer", value)
    return value


def _check_command(value: Any) -> str:
    text = check_str(value)
    if not text.strip():
        raise BadValue("must not be empty")
    if "\0" in text:
        raise BadValue("must not hold a NUL character")
    # No shell runs it, so `~/bin/server` is expanded here, as a shell would.
    return str(Path(text).expanduser()) if text.startswith("~") else text


def _check_args(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise need("a list of strings", value)
    if any("\0" in v for v in value):
        raise BadValue("must not hold a NUL character")
    return tuple(value)


def _check_env(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise need("a table of strings", value)
    for name, text in value.items():
        if not name or "=" in name or "\0" in name or "\0" in text:
            raise BadValue("holds a name or value an environment cannot have "
                           "(empty, '=' or a NUL character)")
    return tuple(value.items())


def _check_cwd(value: Any) -> Path:
    text = check_str(value)
    if not text.strip():
        raise BadValue("must not be empty")
    return Path(text).expanduser()


def _check_approve(value: Any) -> str:
    if value not in ("ask", "auto"):
        raise BadValue('must be "ask" or "auto"')
    return str(value)


def _check_http_url(value: Any) -> str:
    return check_url(value)


def _check_header_pairs(value: Any) -> tuple[tuple[str, str], ...]:
    return tuple(check_headers(value).items())


def _check_tool_names(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise need("a list of tool names", value)
    return tuple(dict.fromkeys(value))  # duplicates dropped, order kept


def _check_ask_wait(value: Any) -> float:
    number = check_number(value)
    # 0 is allowed: never wait, the first request goes with the servers already up.
    if not 0 <= number <= 86400:
        raise BadValue("must be a number of seconds from 0 up to 86400")
    return number


NUMBER_CHECKERS.add(_check_ask_wait)


MCP_KEYS: dict[str, Checker] = {
    "max_tool_rounds": _check_rounds,
    "max_result_bytes": _check_result_bytes,
    "start_timeout": check_timeout,
    "ask_wait": _check_ask_wait,
}
SERVER_KEYS: dict[str, Checker] = {
    "command": _check_command,
    "args": _check_args,
    "env": _check_env,
    "cwd": _check_cwd,
    "url": _check_http_url,
    "headers": _check_header_pairs,
    "approve": _check_approve,
    "enabled": check_bool,
    "timeout": check_timeout,
    "always_allow": _check_tool_names,
}

# What `chatterm config set mcp.servers.NAME.KEY VALUE` takes: the keys of one value (the
# lists and tables are edited in the file).
SERVER_SCALAR_KEYS: dict[str, Checker] = {
    key: SERVER_KEYS[key] for key in ("command", "url", "approve", "enabled", "timeout")}


def check_tool_name_list(value: Any) -> list[str]:
    """always_allow as `config set` writes it (a TOML array, not a tuple)."""
    return list(_check_tool_names(value))


# ... and always_allow, so an approval can be taken back (or given) from the command line
# as well as with the app's "always": `config set mcp.servers.time.always_allow '[]'`.
SERVER_LIST_KEYS: dict[str, Checker] = {"always_allow": check_tool_name_list}


def read_mcp(table: Any, path: Path, warn: Callable[[str, list[str]], None]) -> McpConfig:
    """The checked McpConfig of the file's [mcp] table; `warn(key, known)` is told of an
    unknown key."""
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: mcp must be a table, not {type_name(table)}")
    settings: dict[str, Any] = {}
    for key, value in table.items():
        if key == "servers":
            continue
        checker = MCP_KEYS.get(key)
        if checker is None:
            warn(f"mcp.{key}", [f"mcp.{k}" for k in (*MCP_KEYS, "servers")])
            continue
        settings[key] = _checked(checker, value, f"mcp.{key}", path)
    servers = table.get("servers", {})
    if not isinstance(servers, dict):
        raise ConfigError(f"{path}: mcp.servers must be a table, not {type_name(servers)}")
    settings["servers"] = tuple(_read_server(name, entry, path, warn)
                                for name, entry in servers.items())
    return McpConfig(**settings)


def _read_server(name: str, table: Any, path: Path,
                 warn: Callable[[str, list[str]], None]) -> McpServerConfig:
    where = f"mcp.servers.{name}"
    if not SERVER_NAME.match(name):
        raise ConfigError(f"{path}: {where}: a server's name must be letters, digits, "
                          "'_' or '-' (it is how the server and its tools are shown)")
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: {where} must be a table, not {type_name(table)}")
    settings: dict[str, Any] = {}
    for key, value in table.items():
        checker = SERVER_KEYS.get(key)
        if checker is None:
            warn(f"{where}.{key}", [f"{where}.{k}" for k in SERVER_KEYS])
            continue
        settings[key] = _checked(checker, value, f"{where}.{key}", path)
    has_command, has_url = "command" in settings, "url" in settings
    if has_command == has_url:
        what = "both command and url" if has_command else "neither command nor url"
        raise ConfigError(f"{path}: {where} needs exactly one of command (a program run "
                          f"over stdio) or url (streamable HTTP), it has {what}")
    wrong = [key for key in (HTTP_ONLY if has_command else STDIO_ONLY) if key in settings]
    if wrong:
        kind = "a command (stdio)" if has_command else "a url (HTTP)"
        raise ConfigError(f"{path}: {where}.{wrong[0]} does not apply to a server with {kind}")
    return McpServerConfig(name=name, **settings)


def _checked(checker: Checker, value: Any, key: str, path: Path) -> Any:
    try:
        return checker(value)
    except BadValue as exc:
        raise ConfigError(f"{path}: {key} {exc}") from None
