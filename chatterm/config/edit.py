"""The one editor of the config file: `config set`, a pasted key, a first-run provider URL
and the theme picker all change the file through `edit_file`.

The file is edited as a document (tomlkit), not rebuilt from the values: only the value
being set changes, and the user's comments, key order, quoting and blank lines stay as
they were. Before anything is written the edited file is checked as loading would check
it (a value `load_config` would refuse is never written), and the new text is parsed
back to be sure it holds exactly the values meant. The file is replaced atomically with
mode 0600 (safe_write), and the Config the caller holds is updated in place, so a running
app sees the change at once without reading the file again.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from chatterm.config.load import apply_data, parse_toml, read_text
from chatterm.config.mcp_table import (
    MCP_KEYS,
    SERVER_LIST_KEYS,
    SERVER_SCALAR_KEYS,
    check_tool_name_list,
)
from chatterm.config.schema import (
    ATTACHMENT_KEYS,
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
from chatterm.providers import ProviderConfig, builtin_providers

# One setting: the path of keys down to it (["providers", "local", "base_url"]) and its
# new, already checked value.
Change = tuple[Sequence[str], Any]

_BOM = b"\xef\xbb\xbf"


def edit_file(path: Path, changes: Sequence[Change], *, config: Config | None = None,
              check: Callable[[Config], None] | None = None) -> Config:
    """Set each value of `changes` in the file at `path`, keeping everything else of it.

    Returns the Config the edited file loads as; `config`, when given, is updated to
    match. Raises ConfigError with one line (and leaves the file as it was) when the file
    cannot be read or parsed, a value cannot go where it is asked to, the result would
    not load, or `check` refuses it.
    """
    import tomlkit

    text = read_text(path)
    if text is not None:
        parse_toml(text, path)  # a broken file gets load_config's own one-line message
    try:
        document = tomlkit.parse(text or "")
    except tomlkit.exceptions.ParseError as exc:  # tomllib took it: should not happen
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    for parts, value in changes:
        _put(document, list(parts), value, path)
    edited: dict[str, Any] = document.unwrap()
    fresh = Config(path=path)
    apply_data(fresh, edited, path)  # refuse to write a file that load_config would reject
    if check is not None:
        check(fresh)
    new_text = _same_line_ends(text or "", document.as_string())
    if tomllib.loads(new_text) != edited:
        # A guard against a formatting quirk of the editor, never expected to fire.
        raise ConfigError(f"{path}: the edit could not be written without changing other "
                          "values; the file is left as it was")
    if new_text != text:
        _write(path, new_text)
    if config is not None:
        _refresh(config, fresh)
    return fresh


def _same_line_ends(old: str, new: str) -> str:
    """tomlkit ends the lines it adds with \\n; in a file whose lines all end with \\r\\n
    (Windows editors), so do the new ones."""
    if "\r\n" in old and old.count("\n") == old.count("\r\n"):
        return re.sub(r"(?<!\r)\n", "\r\n", new)
    return new


def _put(document: MutableMapping[str, Any], parts: list[str], value: Any,
         path: Path) -> None:
    import tomlkit
    from tomlkit.items import InlineTable

    parent: MutableMapping[str, Any] | None = None
    table: MutableMapping[str, Any] = document
    for depth, part in enumerate(parts[:-1]):
        inner = table.get(part)
        if inner is None:
            if depth < len(parts) - 2:
                # Holds only tables ([providers] above [providers.local]): no header of
                # its own is written for it.
                inner = tomlkit.table(is_super_table=True)
            elif part == "headers":
                inner = tomlkit.inline_table()  # as config.example.toml writes headers
            else:
                inner = tomlkit.table()
            table[part] = inner
            inner = table[part]
        if not isinstance(inner, MutableMapping):
            where = ".".join(parts[: depth + 1])
            raise ConfigError(f"{path}: {where} must be a table, not {type_name(_plain(inner))}")
        parent, table = table, inner
    key = parts[-1]
    if isinstance(value, dict):
        old = table.get(key)
        if isinstance(old, MutableMapping) and not isinstance(old, InlineTable):
            # A [section] stays a section, where it is.
            for name in [name for name in old if name not in value]:
                del old[name]
            old.update(value)
            return
        value = _inline(value)
    if isinstance(table, InlineTable) and parent is not None:
        # tomlkit spaces a key added to an inline table oddly; the table is written anew
        # on its one line instead.
        entries = dict(table.unwrap())
        entries[key] = value
        parent[parts[-2]] = _inline(entries)
        return
    # Assigning over an existing key keeps its place and its trailing comment.
    table[key] = value


def _inline(values: dict[str, Any]) -> Any:
    """An inline table spaced as people write one, `{ A = "b", C = "d" }` (tomlkit's own
    builder writes `{A = "b", C = "d"}`)."""
    import tomlkit

    if not values:
        return tomlkit.inline_table()
    entries = ", ".join(f"{tomlkit.key(name).as_string()} = {tomlkit.item(item).as_string()}"
                        for name, item in values.items())
    return tomlkit.parse(f"v = {{ {entries} }}")["v"]


def _plain(value: Any) -> Any:
    unwrap = getattr(value, "unwrap", None)
    return unwrap() if callable(unwrap) else value


def _refresh(config: Config, fresh: Config) -> None:
    """Make the caller's Config what the file now says, keeping the objects others hold
    (a ProviderConfig a client was made from sees its new key too)."""
    for item in fields(Config):
        if item.name not in ("providers", "warnings"):
            setattr(config, item.name, getattr(fresh, item.name))
    for name, provider in fresh.providers.items():
        mine = config.providers.get(name)
        if mine is None:
            config.providers[name] = provider
            continue
        for item in fields(ProviderConfig):
            setattr(mine, item.name, getattr(provider, item.name))


def _write(path: Path, text: str) -> None:
    from chatterm.safe_write import ensure_private_dir, write_text

    try:
        bom = _BOM.decode("utf-8") if path.read_bytes()[:3] == _BOM else ""
    except OSError:
        bom = ""
    try:
        ensure_private_dir(path.parent, tighten=False)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
    # Temp file created 0600, so a key is never readable by others, even briefly; a
    # symlinked config (dotfiles repos) stays a link, and stale temps of killed runs go.
    write_text(path, bom + text, error=ConfigError)


# ---- the three ways a person edits it ---------------------------------------------------


def set_config_value(path: Path, dotted_key: str, raw_value: str,
                     config: Config | None = None) -> Any:
    """`chatterm config set KEY VALUE` (and the theme picker): type-check and set one
    value; returns the value written.

    The value is checked as loading checks it, and also against what later commands need
    (a known provider, theme and key action); a refused value changes nothing.
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
    edit_file(path, [(parts, value)], config=config,
              check=lambda fresh: check_setting(fresh, parts))
    return value


def save_api_key(path: Path, provider_name: str, key: str,
                 config: Config | None = None) -> None:
    """Store a key in the config file (discouraged, but asked for); the file ends up 0600."""
    key = key.strip()
    if not key:
        raise ConfigError("the API key is empty")
    edit_file(path, [(["providers", provider_name, "api_key"], key)], config=config)


def add_provider(path: Path, base_url: str, model: str = "", prefer: str = "local",
                 config: Config | None = None) -> str:
    """Add a keyless OpenAI-compatible provider; returns the name it got.

    Never replaces a provider that is there already: a table (or a built-in) under
    `prefer` with another base_url leaves the name to it, and the first free one of
    "prefer-2", "prefer-3", … is used. The same base_url reuses that table, keeping its
    default_model when it has one (and the file unchanged when nothing is new).
    """
    try:
        url = check_url(base_url)
    except BadValue as exc:
        raise ConfigError(f"base_url {exc}") from None
    text = read_text(path)
    tables = (parse_toml(text, path) if text is not None else {}).get("providers", {})
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
    table = tables.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: providers.{name} must be a table, not {type_name(table)}")
    changes: list[Change] = []
    if table.get("base_url") != url:
        changes.append((["providers", name, "base_url"], url))
    if model and not table.get("default_model"):
        changes.append((["providers", name, "default_model"], model))
    edit_file(path, changes, config=config)
    return name


# ---- `config set` text to a typed value -------------------------------------------------


def _known_keys(parts: list[str]) -> list[str]:
    keys = [*TOP_KEYS, *(f"params.{k}" for k in PARAM_KEYS), "keys.ACTION"]
    keys += [f"attachments.{k}" for k in ATTACHMENT_KEYS]
    name = parts[1] if len(parts) > 2 and parts[0] == "providers" else "NAME"
    keys += [f"providers.{name}.{k}" for k in PROVIDER_KEYS]
    keys.append(f"providers.{name}.headers.HEADER")
    keys += [f"mcp.{k}" for k in MCP_KEYS]
    server = parts[2] if len(parts) > 3 and parts[:2] == ["mcp", "servers"] else "NAME"
    keys += [f"mcp.servers.{server}.{k}" for k in (*SERVER_SCALAR_KEYS, *SERVER_LIST_KEYS)]
    return keys


def _checker_for(parts: list[str]) -> Checker | None:
    match parts:
        case [key] if key in TOP_KEYS:
            return TOP_KEYS[key]
        case ["params", key] if key in PARAM_KEYS:
            return PARAM_KEYS[key]
        case ["attachments", key] if key in ATTACHMENT_KEYS:
            return ATTACHMENT_KEYS[key]
        case ["keys", action] if action:
            return check_str
        case ["providers", name, key] if name and key in PROVIDER_KEYS:
            return PROVIDER_KEYS[key]
        case ["mcp", key] if key in MCP_KEYS:
            return MCP_KEYS[key]
        case ["mcp", "servers", name, key] if name and key in SERVER_SCALAR_KEYS:
            return SERVER_SCALAR_KEYS[key]
        case ["mcp", "servers", name, key] if name and key in SERVER_LIST_KEYS:
            return SERVER_LIST_KEYS[key]
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
            pass
        # "1.5" is a number, just not a whole one: let the checker say "not a float".
        try:
            return float(text)
        except ValueError:
            return raw
    if checker in (check_str_list, check_headers, check_tool_name_list) \
            and text[:1] in ("[", "{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            try:
                return tomllib.loads(f"v = {text}")["v"]
            except tomllib.TOMLDecodeError:
                raise ConfigError(f"cannot parse {text!r} as JSON or TOML") from None
    return raw
