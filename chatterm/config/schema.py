"""The config's shape: the Config dataclass and a checker for every key.

Each checker knows how to check a value read from TOML (load.py) or typed after
`chatterm config set KEY` (edit.py), so a value is judged the same way on both paths.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatterm.attachments import AttachmentLimits
from chatterm.conversation import Params
from chatterm.errors import ConfigError, UsageError
from chatterm.mcp.config import McpConfig
from chatterm.numbers import is_finite_number
from chatterm.providers import (
    DEFAULT_PROVIDER,
    ProviderConfig,
    builtin_providers,
    header_name_problem,
)

# ---- value kinds -----------------------------------------------------------------------
# Each kind knows how to check a value read from TOML and how to parse the raw string
# typed after `chatterm config set KEY`. Checkers return the normalised value or raise
# BadValue with the phrase that completes "KEY must be ...".


class BadValue(Exception):
    pass


def type_name(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        # "an integer, not a number" would read as a contradiction.
        return "a decimal number" if value.is_integer() else "a fractional number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return "a date/time"


def need(what: str, value: object) -> BadValue:
    # Name the type we got, never the value: it might be a secret.
    return BadValue(f"must be {what}, not {type_name(value)}")


def check_str(value: Any) -> str:
    if not isinstance(value, str):
        raise need("a string", value)
    return value


def check_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise need("true or false", value)
    return value


def check_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise need("a number", value)
    if not is_finite_number(value):
        # TOML has nan and inf; a NaN timeout or temperature fails every request.
        raise BadValue("must be a finite number, not nan or inf")
    return value


# Checkers whose raw `config set` text is parsed as a number first.
NUMBER_CHECKERS: set[Callable[[Any], Any]] = set()


def check_range(low: float, high: float, *, low_open: bool = False) -> Checker:
    """A number within [low, high] (or (low, high]): what providers accept, so a value
    every request would be refused for is caught where it is written."""
    def check(value: Any) -> float:
        number = check_number(value)
        if number < low or number > high or (low_open and number == low):
            lower = "above" if low_open else "from"
            raise BadValue(f"must be a number {lower} {low:g} up to {high:g}")
        return number
    NUMBER_CHECKERS.add(check)
    return check


def check_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise need("an integer", value)
    return value


def check_count(value: Any) -> int:
    number = check_int(value)
    if number < 0:
        raise BadValue("must be an integer of 0 or more")
    return number


def check_max_tokens(value: Any) -> int:
    number = check_int(value)
    if number < 1:
        raise BadValue("must be an integer of 1 or more")
    return number


def check_str_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise need("a string or a list of strings", value)
    return list(value)


def check_headers(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise need("a table of strings", value)
    # Refused here, not as a confusing "cannot reach" from the HTTP stack at send time.
    for name in value:
        problem = header_name_problem(name)
        if problem:
            raise BadValue(f"holds a name HTTP cannot send: {problem}")
    return dict(value)


def check_kind(value: Any) -> str:
    if not isinstance(value, str) or value not in ("openai", "mistral"):
        raise BadValue('must be "openai" or "mistral"')
    return value


def check_url(value: Any) -> str:
    url = check_str(value)
    if not re.match(r"^https?://[^/\s]+", url):
        raise BadValue("must be an http:// or https:// URL")
    if "@" in re.split(r"[/?#]", url.partition("://")[2], maxsplit=1)[0]:
        # httpx would send it as `Authorization: Basic …` in place of the key's Bearer
        # header, and the URL is shown and cached: refuse it, without repeating it.
        raise BadValue("must not hold a user:password@ part (it would be sent in place "
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
        raise BadValue("must be a URL with a valid host and port") from None
    if not parts.hostname or port == 0:
        raise BadValue("must be a URL with a valid host and port")
    # urlsplit takes "bad host" as a host name; no resolver or HTTP library would.
    if any(char.isspace() for char in parts.netloc):
        raise BadValue("must be a URL with a valid host and port (it holds a space)")


def check_timeout(value: Any) -> float:
    number = check_number(value)
    # Below 0.1 s nothing can answer; above a day it is a typo, not a wait.
    if not 0.1 <= number <= 86400:
        raise BadValue("must be a number of seconds from 0.1 up to 86400")
    return number


NUMBER_CHECKERS.add(check_timeout)


Checker = Callable[[Any], Any]

TOP_KEYS: dict[str, Checker] = {
    "default_provider": check_str,
    "default_model": check_str,
    "system_prompt": check_str,
    "stream": check_bool,
    "theme": check_str,
}
PARAM_KEYS: dict[str, Checker] = {
    # OpenAI-compatible APIs take temperature 0-2 and top_p in (0, 1]; Mistral's range
    # lies inside those.
    "temperature": check_range(0, 2),
    "top_p": check_range(0, 1, low_open=True),
    "max_tokens": check_max_tokens,
    "stop": check_str_list,
    "seed": check_int,
    "safe_prompt": check_bool,
}
PROVIDER_KEYS: dict[str, Checker] = {
    "base_url": check_url,
    "kind": check_kind,
    "api_key_env": check_str,
    "api_key": check_str,
    "api_key_command": check_str,
    "headers": check_headers,
    "connect_timeout": check_timeout,
    "read_timeout": check_timeout,
    "max_retries": check_count,
    "default_model": check_str,
}


def check_byte_limit(value: Any) -> int:
    number = check_int(value)
    # Below one byte nothing could be attached; above 2**40 is a typo, not a limit.
    if not 1 <= number <= 1 << 40:
        raise BadValue("must be a number of bytes from 1 up to 1099511627776")
    return number


def check_attachment_count(value: Any) -> int:
    number = check_int(value)
    if not 1 <= number <= 1000:
        raise BadValue("must be an integer from 1 up to 1000")
    return number


NUMBER_CHECKERS.update((check_byte_limit, check_attachment_count))  # `config set` parses a number

# [attachments]: the limits chatterm.attach_files checks before anything is sent or saved.
ATTACHMENT_KEYS: dict[str, Checker] = {
    "max_image_bytes": check_byte_limit,
    "max_text_bytes": check_byte_limit,
    "max_count": check_attachment_count,
}
# [roles.NAME] (and roles/NAME.toml): checked one role at a time by chatterm.config.role_table,
# so a bad role is one line and the others still load; `params` is a table of PARAM_KEYS.
ROLE_KEYS: dict[str, Checker] = {
    "system_prompt": check_str,
    "description": check_str,
    "provider": check_str,
    "model": check_str,
}
TABLES = ("params", "keys", "providers", "mcp", "attachments", "roles")


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
    # [mcp] and its [mcp.servers.NAME] tables (checked by chatterm.config.mcp_table).
    mcp: McpConfig = field(default_factory=McpConfig)
    attachments: AttachmentLimits = field(default_factory=AttachmentLimits)
    # [roles.NAME] as read, each checked when roles are loaded (chatterm.roles.load_roles).
    role_tables: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    warnings: list[str] = field(default_factory=list)

    def provider(self, name: str | None = None) -> ProviderConfig:
        """The named provider, or the default one; unknown names get close matches."""
        if name is None:
            name = self.default_provider
            if name not in self.providers:
                raise ConfigError(
                    f"{self.path}: default_provider {name!r} is not a known provider"
                    f"{suggest(name, self.providers)}"
                )
        found = self.providers.get(name)
        if found is None:
            raise UsageError(f"unknown provider {name!r}{suggest(name, self.providers)}")
        return found

    def model_for(self, provider_name: str | None = None) -> str | None:
        """The model to use when none is given: default_model only applies to the
        default provider, since a model id rarely exists on another provider."""
        provider = self.provider(provider_name)
        if self.default_model and provider.name == self.default_provider:
            return self.default_model
        return provider.default_model


def suggest(name: str, known: Iterable[str]) -> str:
    """" (did you mean a, b?)" for close matches of `name`, else " (known: …)"."""
    names = sorted(known)
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    if close:
        return f" (did you mean {', '.join(close)}?)"
    return f" (known: {', '.join(names)})" if names else ""

