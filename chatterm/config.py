"""The user's config file: loading and validating it, resolving keys, and editing it safely.

Nothing here touches the disk until a function is called.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatterm.conversation import Params
from chatterm.errors import ConfigError, UsageError
from chatterm.numbers import is_finite_number
from chatterm.providers import (
    DEFAULT_PROVIDER,
    ProviderConfig,
    builtin_providers,
    header_name_problem,
)

KEY_COMMAND_TIMEOUT = 10.0

# ---- value kinds -----------------------------------------------------------------------
# Each kind knows how to check a value read from TOML and how to parse the raw string
# typed after `chatterm config set KEY`. Checkers return the normalised value or raise
# _BadValue with the phrase that completes "KEY must be ...".


class _BadValue(Exception):
    pass


def _type_name(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return "a date/time"


def _need(what: str, value: object) -> _BadValue:
    # Name the type we got, never the value: it might be a secret.
    return _BadValue(f"must be {what}, not {_type_name(value)}")


def _check_str(value: Any) -> str:
    if not isinstance(value, str):
        raise _need("a string", value)
    return value


def _check_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _need("true or false", value)
    return value


def _check_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _need("a number", value)
    if not is_finite_number(value):
        # TOML has nan and inf; a NaN timeout or temperature fails every request.
        raise _BadValue("must be a finite number, not nan or inf")
    return value


# Checkers whose raw `config set` text is parsed as a number first.
_NUMBER_CHECKERS: set[Callable[[Any], Any]] = set()


def _check_range(low: float, high: float, *, low_open: bool = False) -> Checker:
    """A number within [low, high] (or (low, high]): what providers accept, so a value
    every request would be refused for is caught where it is written."""
    def check(value: Any) -> float:
        number = _check_number(value)
        if number < low or number > high or (low_open and number == low):
            lower = "above" if low_open else "from"
            raise _BadValue(f"must be a number {lower} {low:g} up to {high:g}")
        return number
    _NUMBER_CHECKERS.add(check)
    return check


def _check_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _need("an integer", value)
    return value


def _check_count(value: Any) -> int:
    number = _check_int(value)
    if number < 0:
        raise _BadValue("must be an integer of 0 or more")
    return number


def _check_max_tokens(value: Any) -> int:
    number = _check_int(value)
    if number < 1:
        raise _BadValue("must be an integer of 1 or more")
    return number


def _check_str_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _need("a string or a list of strings", value)
    return list(value)


def _check_headers(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _need("a table of strings", value)
    # Refused here, not as a confusing "cannot reach" from the HTTP stack at send time.
    for name in value:
        problem = header_name_problem(name)
        if problem:
            raise _BadValue(f"holds a name HTTP cannot send: {problem}")
    return dict(value)


def _check_kind(value: Any) -> str:
    if value not in ("openai", "mistral"):
        raise _BadValue('must be "openai" or "mistral"')
    return value


def _check_url(value: Any) -> str:
    url = _check_str(value)
    if not re.match(r"^https?://[^/\s]+", url):
        raise _BadValue("must be an http:// or https:// URL")
    if "@" in re.split(r"[/?#]", url.partition("://")[2], maxsplit=1)[0]:
        # httpx would send it as `Authorization: Basic …` in place of the key's Bearer
        # header, and the URL is shown and cached: refuse it, without repeating it.
        raise _BadValue("must not hold a user:password@ part (it would be sent in place "
                        "of the API key); put credentials in the provider's headers instead")
    _check_url_parts(url)
    return url.rstrip("/")


def _check_url_parts(url: str) -> None:
    """What httpx would trip over later (a bad port, a broken IPv6 host), refused now."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError when it is not a number 0-65535
    except ValueError:
        raise _BadValue("must be a URL with a valid host and port") from None
    if not parts.hostname or port == 0:
        raise _BadValue("must be a URL with a valid host and port")


def _check_timeout(value: Any) -> float:
    number = _check_number(value)
    # Below 0.1 s nothing can answer; above a day it is a typo, not a wait.
    if not 0.1 <= number <= 86400:
        raise _BadValue("must be a number of seconds from 0.1 up to 86400")
    return number


_NUMBER_CHECKERS.add(_check_timeout)


Checker = Callable[[Any], Any]

TOP_KEYS: dict[str, Checker] = {
    "default_provider": _check_str,
    "default_model": _check_str,
    "system_prompt": _check_str,
    "stream": _check_bool,
    "theme": _check_str,
}
PARAM_KEYS: dict[str, Checker] = {
    # OpenAI-compatible APIs take temperature 0-2 and top_p in (0, 1]; Mistral's range
    # lies inside those.
    "temperature": _check_range(0, 2),
    "top_p": _check_range(0, 1, low_open=True),
    "max_tokens": _check_max_tokens,
    "stop": _check_str_list,
    "seed": _check_int,
    "safe_prompt": _check_bool,
}
PROVIDER_KEYS: dict[str, Checker] = {
    "base_url": _check_url,
    "kind": _check_kind,
    "api_key_env": _check_str,
    "api_key": _check_str,
    "api_key_command": _check_str,
    "headers": _check_headers,
    "connect_timeout": _check_timeout,
    "read_timeout": _check_timeout,
    "max_retries": _check_count,
    "default_model": _check_str,
}
TABLES = ("params", "keys", "providers")


# ---- the loaded config ------------------------------------------------------------------


@dataclass(slots=True)
class Config:
    default_provider: str = DEFAULT_PROVIDER
    # None means "the provider's own default_model".
    default_model: str | None = None
    system_prompt: str = ""
    stream: bool = True
    # None means "the TUI's default theme".
    theme: str | None = None
    params: Params = field(default_factory=Params)
    keys: dict[str, str] = field(default_factory=dict)
    providers: dict[str, ProviderConfig] = field(default_factory=builtin_providers)
    path: Path | None = None
    warnings: list[str] = field(default_factory=list)

    def provider(self, name: str | None = None) -> ProviderConfig:
        """The named provider, or the default one; unknown names get close matches."""
        if name is None:
            name = self.default_provider
            if name not in self.providers:
                raise ConfigError(
                    f"{self.path}: default_provider {name!r} is not a known provider"
                    f"{_suggest(name, self.providers)}"
                )
        found = self.providers.get(name)
        if found is None:
            raise UsageError(f"unknown provider {name!r}{_suggest(name, self.providers)}")
        return found

    def model_for(self, provider_name: str | None = None) -> str | None:
        """The model to use when none is given: default_model only applies to the
        default provider, since a model id rarely exists on another provider."""
        provider = self.provider(provider_name)
        if self.default_model and provider.name == self.default_provider:
            return self.default_model
        return provider.default_model


def _suggest(name: str, known: Any) -> str:
    names = sorted(known)
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    if close:
        return f" (did you mean {', '.join(close)}?)"
    return f" (known: {', '.join(names)})" if names else ""


def _key_error(path: Path, key: str, problem: str) -> ConfigError:
    return ConfigError(f"{path}: {key} {problem}")


def _read_toml(path: Path) -> dict[str, Any] | None:
    """The parsed file, or None when it does not exist."""
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
    text = text.removeprefix("\ufeff")
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
    data = _read_toml(path)
    config = Config(path=path)
    if data is None:
        return config
    _apply(config, data, path)
    _warn_if_readable(config, data, path)
    return config


def _apply(config: Config, data: dict[str, Any], path: Path) -> None:
    warnings = config.warnings
    for key, value in data.items():
        if key in TOP_KEYS:
            try:
                setattr(config, key, TOP_KEYS[key](value))
            except _BadValue as exc:
                raise _key_error(path, key, str(exc)) from None
        elif key in TABLES:
            if not isinstance(value, dict):
                raise _key_error(path, key, f"must be a table, not {_type_name(value)}")
        else:
            warnings.append(_unknown(path, key, [*TOP_KEYS, *TABLES]))

    params = _checked_table(data.get("params", {}), "params", PARAM_KEYS, path, warnings)
    config.params = Params.from_dict(params)

    for action, key_spec in data.get("keys", {}).items():
        if not isinstance(key_spec, str):
            raise _key_error(path, f"keys.{action}", _need("a string", key_spec).args[0])
        config.keys[action] = key_spec

    for name, table in data.get("providers", {}).items():
        where = f"providers.{name}"
        if not isinstance(table, dict):
            raise _key_error(path, where, f"must be a table, not {_type_name(table)}")
        settings = _checked_table(table, where, PROVIDER_KEYS, path, warnings)
        base = config.providers.get(name)
        if base is None:
            if "base_url" not in settings:
                raise _key_error(path, f"{where}.base_url", "is required for a new provider")
            base = ProviderConfig(name=name, base_url=settings["base_url"])
        for key, value in settings.items():
            setattr(base, key, value)
        config.providers[name] = base


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
        except _BadValue as exc:
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


# ---- API keys ---------------------------------------------------------------------------


def resolve_api_key(provider: ProviderConfig) -> str | None:
    """The key from the env var, else `api_key`, else `api_key_command`'s first line.

    Whatever is found is registered with the redactor: no line shown later says it."""
    from chatterm.redact import remember

    key = _find_api_key(provider)
    remember(key, *provider.secret_values)
    return key


def _find_api_key(provider: ProviderConfig) -> str | None:
    if provider.api_key_env:
        from_env = os.environ.get(provider.api_key_env, "").strip()
        if from_env:
            return from_env
    if provider.api_key and provider.api_key.strip():
        return provider.api_key.strip()
    if provider.api_key_command:
        return _run_key_command(provider)
    return None


def _run_key_command(provider: ProviderConfig) -> str:
    # The command's output is the secret: it is never echoed, logged or kept.
    from chatterm.key_command import run_key_command

    return run_key_command(provider.api_key_command or "",
                           f"api_key_command for provider {provider.name!r}",
                           KEY_COMMAND_TIMEOUT)


def missing_key_message(provider: ProviderConfig, config_path: Path | None = None) -> str:
    if config_path is None:
        from chatterm.locations import config_file

        config_path = config_file()
    table = f"[providers.{provider.name}]"
    if provider.api_key_env:
        return (
            f"no API key for provider {provider.name!r}: set {provider.api_key_env}"
            f" (or api_key_command in {table} of {config_path})"
        )
    return (
        f"no API key for provider {provider.name!r}: set api_key_env or api_key_command"
        f" in {table} of {config_path}"
    )


# ---- editing the file -------------------------------------------------------------------


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
            return _check_str
        case ["providers", name, key] if name and key in PROVIDER_KEYS:
            return PROVIDER_KEYS[key]
        case ["providers", name, "headers", header] if name and header:
            return lambda value, header=header: _check_headers({header: value})[header]
    return None


def _parse_raw(checker: Checker, raw: str) -> Any:
    """Turn the text typed on the command line into the type the key needs."""
    text = raw.strip()
    if checker is _check_bool:
        lowered = text.lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False
        return raw
    if checker is _check_number or checker in _NUMBER_CHECKERS:
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                return raw
    if checker in (_check_int, _check_count, _check_max_tokens):
        try:
            return int(text)
        except ValueError:
            return raw
    if checker in (_check_str_list, _check_headers) and text[:1] in ("[", "{"):
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
    from chatterm.config_rules import check_setting

    parts = dotted_key.split(".")
    checker = _checker_for(parts)
    if checker is None:
        close = difflib.get_close_matches(dotted_key, _known_keys(parts), n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ConfigError(f"unknown config key {dotted_key!r}{hint}")
    value = _parse_raw(checker, raw_value)
    try:
        value = checker(value)
    except _BadValue as exc:
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
        url = _check_url(base_url)
    except _BadValue as exc:
        raise ConfigError(f"base_url {exc}") from None
    data = _read_toml(path) or {}
    tables = data.get("providers", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"{path}: providers must be a table, not {_type_name(tables)}")
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
        raise ConfigError(f"{path}: providers.{name} must be a table, not {_type_name(table)}")
    table["base_url"] = url
    if model and not table.get("default_model"):
        table["default_model"] = model
    data["providers"] = tables
    _apply(Config(path=path), data, path)
    _write_private(path, data)
    return name


def _update_file(path: Path, parts: list[str], value: Any,
                 check: Callable[[Config], None] | None = None) -> None:
    data = _read_toml(path) or {}
    table = data
    for part in parts[:-1]:
        inner = table.setdefault(part, {})
        if not isinstance(inner, dict):
            raise ConfigError(f"{path}: {part} must be a table, not {_type_name(inner)}")
        table = inner
    table[parts[-1]] = value
    # Refuse to write a file that load_config would then reject.
    config = Config(path=path)
    _apply(config, data, path)
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
