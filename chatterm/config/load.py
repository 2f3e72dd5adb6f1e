"""Reading the config file: TOML in, a checked Config out, one clear line for a bad file.

Nothing here touches the disk until a function is called.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from dataclasses import asdict
from pathlib import Path
from typing import Any

from chatterm.attachments import AttachmentLimits
from chatterm.config.schema import (
    ATTACHMENT_KEYS,
    PARAM_KEYS,
    PROVIDER_KEYS,
    TABLES,
    TOP_KEYS,
    BadValue,
    Checker,
    Config,
    need,
    type_name,
)
from chatterm.conversation import Params
from chatterm.errors import ConfigError
from chatterm.providers import ProviderConfig


def _key_error(path: Path, key: str, problem: str) -> ConfigError:
    return ConfigError(f"{path}: {key} {problem}")


def read_toml(path: Path) -> dict[str, Any] | None:
    """The parsed file, or None when it does not exist."""
    text = read_text(path)
    return None if text is None else parse_toml(text, path)


def read_text(path: Path) -> str | None:
    """The file's text without a byte-order mark, or None when it does not exist."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the file is not valid UTF-8") from None
    # Some Windows editors start UTF-8 files with a byte-order mark; TOML has no use for
    # it and tomllib calls it an invalid statement, so it is dropped.
    return text.removeprefix("\ufeff")


def parse_toml(text: str, path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {_toml_message(exc)}") from None


def _toml_message(exc: tomllib.TOMLDecodeError) -> str:
    # tomllib ends its messages with "(at line N, column M)"; lead with the line instead.
    message = str(exc)
    found = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if found:
        return f"line {found[1]}, column {found[2]}: {message[: found.start()]}"
    return message


def load_config(path: Path | None = None) -> Config:
    """Read and validate the config file; a missing file gives the defaults."""
    if path is None:
        from chatterm.locations import config_file

        path = config_file()
    from chatterm.safe_write import sweep_stale

    sweep_stale(path.parent, path.name)  # a `config set` killed mid-write left its temp
    data = read_toml(path)
    config = Config(path=path)
    if data is None:
        return config
    apply_data(config, data, path)
    _warn_if_readable(config, data, path)
    return config


def apply_data(config: Config, data: dict[str, Any], path: Path) -> None:
    warnings = config.warnings
    for key, value in data.items():
        if key in TOP_KEYS:
            try:
                setattr(config, key, TOP_KEYS[key](value))
            except BadValue as exc:
                raise _key_error(path, key, str(exc)) from None
        elif key in TABLES:
            if not isinstance(value, dict):
                raise _key_error(path, key, f"must be a table, not {type_name(value)}")
        else:
            warnings.append(_unknown(path, key, [*TOP_KEYS, *TABLES]))

    params = _checked_table(data.get("params", {}), "params", PARAM_KEYS, path, warnings)
    config.params = Params.from_dict(params)

    limits = _checked_table(data.get("attachments", {}), "attachments", ATTACHMENT_KEYS,
                            path, warnings)
    config.attachments = AttachmentLimits(**{**asdict(config.attachments), **limits})

    # Checked one role at a time when roles are loaded: a bad role never stops the rest.
    config.role_tables = dict(data.get("roles", {}))

    for action, key_spec in data.get("keys", {}).items():
        if not isinstance(key_spec, str):
            raise _key_error(path, f"keys.{action}", need("a string", key_spec).args[0])
        config.keys[action] = key_spec

    for name, table in data.get("providers", {}).items():
        where = f"providers.{name}"
        if not isinstance(table, dict):
            raise _key_error(path, where, f"must be a table, not {type_name(table)}")
        settings = _checked_table(table, where, PROVIDER_KEYS, path, warnings)
        base = config.providers.get(name)
        if base is None:
            if "base_url" not in settings:
                raise _key_error(path, f"{where}.base_url", "is required for a new provider")
            base = ProviderConfig(name=name, base_url=settings["base_url"])
        for key, value in settings.items():
            setattr(base, key, value)
        config.providers[name] = base

    if "mcp" in data:
        from chatterm.config.mcp_table import read_mcp

        config.mcp = read_mcp(data["mcp"], path,
                              lambda key, known: warnings.append(_unknown(path, key, known)))


def _checked_table(
    table: dict[str, Any],
    where: str,
    schema: dict[str, Checker],
    path: Path,
    warnings: list[str],
) -> dict[str, Any]:
    checked: dict[str, Any] = {}
    for key, value in table.items():
        checker = schema.get(key)
        if checker is None:
            warnings.append(_unknown(path, f"{where}.{key}", [f"{where}.{k}" for k in schema]))
            continue
        try:
            checked[key] = checker(value)
        except BadValue as exc:
            raise _key_error(path, f"{where}.{key}", str(exc)) from None
    return checked


def _unknown(path: Path, key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"{path}: unknown key {key!r} ignored{hint}"


def _holds_api_key(data: Any) -> bool:
    if isinstance(data, dict):
        return any(
            (key == "api_key" and isinstance(value, str) and value.strip())
            or _holds_api_key(value)
            for key, value in data.items()
        )
    if isinstance(data, list):
        return any(_holds_api_key(item) for item in data)
    return False


def _warn_if_readable(config: Config, data: dict[str, Any], path: Path) -> None:
    if os.name != "posix" or not _holds_api_key(data):
        return
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & 0o044:
        config.warnings.append(
            f"{path} holds an API key and is readable by others; fix it with: chmod 600 {path}"
        )

