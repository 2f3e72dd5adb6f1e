"""Editing the config file: `config set`, a pasted key, a first-run provider URL."""

from __future__ import annotations

import difflib
import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chatterm.config.load import apply_data, read_toml
from chatterm.config.schema import (
    NUMBER_CHECKERS,
    PARAM_KEYS,
    PROVIDER_KEYS,
    TOP_KEYS,
    BadValue,
    Checker,
    Config,
    check_bool,
    check_count,
    check_headers,
    check_int,
    check_max_tokens,
    check_number,
    check_str,
    check_str_list,
    check_url,
    type_name,
)
from chatterm.errors import ConfigError
from chatterm.providers import builtin_providers


def _known_keys(parts: list[str]) -> list[str]:
    keys = [*TOP_KEYS, *(f"params.{k}" for k in PARAM_KEYS), "keys.ACTION"]
    name = parts[1] if len(parts) > 2 and parts[0] == "providers" else "NAME"
    keys += [f"providers.{name}.{k}" for k in PROVIDER_KEYS]
    keys.append(f"providers.{name}.headers.HEADER")
    return keys


def _checker_for(parts: list[str]) -> Checker | None:
    match parts:
        case [key] if key in TOP_KEYS:
            return TOP_KEYS[key]
        case ["params", key] if key in PARAM_KEYS:
            return PARAM_KEYS[key]
        case ["keys", action] if action:
            return check_str
        case ["providers", name, key] if name and key in PROVIDER_KEYS:
            return PROVIDER_KEYS[key]
        case ["providers", name, "headers", header] if name and header:
            def check_header(value: Any) -> str:
                return check_headers({header: value})[header]

            return check_header
    return None


def _parse_raw(checker: Checker, raw: str) -> Any:
    """Turn the text typed on the command line into the type the key needs."""
    text = raw.strip()
    if checker is check_bool:
        lowered = text.lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False
        return raw
    if checker is check_number or checker in NUMBER_CHECKERS:
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                return raw
    if checker in (check_int, check_count, check_max_tokens):
        try:
            return int(text)
        except ValueError:
            return raw
    if checker in (check_str_list, check_headers) and text[:1] in ("[", "{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            try:
                return tomllib.loads(f"v = {text}")["v"]
            except tomllib.TOMLDecodeError:
                raise ConfigError(f"cannot parse {text!r} as JSON or TOML") from None
    return raw


def set_config_value(path: Path, dotted_key: str, raw_value: str) -> Any:
    """`chatterm config set KEY VALUE`: type-check, keep every other value, write 0600;
    returns the value written.

    The value is checked as loading checks it, and also against what later commands need
    (a known provider, theme and key action); a refused value changes nothing. tomli-w
    rewrites the whole file, so comments in it are not kept.
    """
    from chatterm.config.rules import check_setting

    parts = dotted_key.split(".")
    checker = _checker_for(parts)
    if checker is None:
        close = difflib.get_close_matches(dotted_key, _known_keys(parts), n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ConfigError(f"unknown config key {dotted_key!r}{hint}")
    value = _parse_raw(checker, raw_value)
    try:
        value = checker(value)
    except BadValue as exc:
        raise ConfigError(f"{dotted_key} {exc}") from None
    _update_file(path, parts, value, check=lambda config: check_setting(config, parts))
    return value


def save_api_key(path: Path, provider_name: str, key: str) -> None:
    """Store a key in the config file (discouraged, but asked for); the file ends up 0600."""
    key = key.strip()
    if not key:
        raise ConfigError("the API key is empty")
    _update_file(path, ["providers", provider_name, "api_key"], key)


def add_provider(path: Path, base_url: str, model: str = "", prefer: str = "local") -> str:
    """Add a keyless OpenAI-compatible provider; returns the name it got.

    Never replaces a provider that is there already: a table (or a built-in) under
    `prefer` with another base_url leaves the name to it, and the first free one of
    "prefer-2", "prefer-3", … is used. The same base_url reuses that table, keeping its
    default_model when it has one.
    """
    try:
        url = check_url(base_url)
    except BadValue as exc:
        raise ConfigError(f"base_url {exc}") from None
    data = read_toml(path) or {}
    tables = data.get("providers", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"{path}: providers must be a table, not {type_name(tables)}")
    builtins = builtin_providers()

    def url_of(name: str) -> str | None:
        table = tables.get(name)
        if isinstance(table, dict) and isinstance(table.get("base_url"), str):
            return str(table["base_url"]).rstrip("/")
        known = builtins.get(name)
        return known.base_url.rstrip("/") if known is not None else None

    name, index = prefer, 1
    while (taken := url_of(name)) is not None or name in tables:
        if taken == url.rstrip("/"):
            break
        index += 1
        name = f"{prefer}-{index}"
    table = tables.setdefault(name, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: providers.{name} must be a table, not {type_name(table)}")
    table["base_url"] = url
    if model and not table.get("default_model"):
        table["default_model"] = model
    data["providers"] = tables
    apply_data(Config(path=path), data, path)
    _write_private(path, data)
    return name


def _update_file(path: Path, parts: list[str], value: Any,
                 check: Callable[[Config], None] | None = None) -> None:
    data = read_toml(path) or {}
    table = data
    for part in parts[:-1]:
        inner = table.setdefault(part, {})
        if not isinstance(inner, dict):
            raise ConfigError(f"{path}: {part} must be a table, not {type_name(inner)}")
        table = inner
    table[parts[-1]] = value
    # Refuse to write a file that load_config would then reject.
    config = Config(path=path)
    apply_data(config, data, path)
    if check is not None:
        check(config)
    _write_private(path, data)


def _write_private(path: Path, data: dict[str, Any]) -> None:
    try:
        _write_private_file(path, data)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None


def _write_private_file(path: Path, data: dict[str, Any]) -> None:
    import tomli_w

    from chatterm.safe_write import write_file

    text = tomli_w.dumps(data)
    parent = path.parent
    if not parent.exists():
        parent.mkdir(parents=True, mode=0o700)
        parent.chmod(0o700)  # mkdir's mode is filtered by the umask
    # Temp file created 0600, so the key is never readable by others, even briefly; a
    # symlinked config (dotfiles repos) stays a link, and stale temps of killed runs go.
    write_file(path, text.encode("utf-8"))
