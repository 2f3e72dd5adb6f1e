"""`chatterm config show`: the effective config with every secret masked.

Masked: `api_key`; every header value except the few that are never secret
(`chatterm.providers.PUBLIC_HEADERS`: a token header may be called anything); the
arguments of `api_key_command` that could be a key (`echo sk-…` happens); a base URL's
user:password part (refused on load, masked here all the same).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import asdict, fields
from typing import Any

from chatterm.config.schema import Config
from chatterm.providers import ProviderConfig, is_public_header
from chatterm.redact import MASK, mask_key, redact

# A command argument shown as it is: a plain word or path with no digits (`pass`, `show`,
# `aimlapi`, `~/.keys/ai`, `--quiet`). Anything else may be a key and is hidden.
_PLAIN_ARGUMENT = re.compile(r"[A-Za-z_./~=-]{1,40}")


def _mask_header(value: str) -> str:
    scheme, sep, token = value.partition(" ")
    if sep and scheme.lower() in ("bearer", "basic", "token") and token:
        return f"{scheme} {mask_key(token)}"
    return mask_key(value)


def _mask_command(command: str) -> str:
    try:
        words = shlex.split(command)
    except ValueError:
        return MASK  # unbalanced quotes: no telling where a key would start
    if not words:
        return command
    shown = [words[0]]
    for word in words[1:]:
        plain = _PLAIN_ARGUMENT.fullmatch(word) and redact(word) == word
        shown.append(shlex.quote(word) if plain else "…")
    return " ".join(shown)


def _masked_value(name: str, value: Any, provider: ProviderConfig) -> Any:
    if name == "api_key":
        return mask_key(value)
    if name == "api_key_command":
        return _mask_command(value)
    if name == "base_url":
        return provider.shown_url
    if name == "headers":
        return {header: text if is_public_header(header) else _mask_header(text)
                for header, text in value.items()}
    return value


def _masked_mcp(cfg: Config) -> dict[str, Any]:
    """[mcp] with every `env` value and every header value but the public ones masked
    (a server's token is as secret as a provider's key)."""
    servers: dict[str, Any] = {}
    for server in cfg.mcp.servers:
        entry: dict[str, Any] = {"command": server.command, "args": list(server.args),
                                 "url": server.url, "approve": server.approve,
                                 "enabled": server.enabled, "timeout": server.timeout}
        if server.env:
            entry["env"] = {name: mask_key(value) for name, value in server.env}
        if server.cwd is not None:
            entry["cwd"] = str(server.cwd)
        if server.headers:
            entry["headers"] = {header: text if is_public_header(header) else _mask_header(text)
                                for header, text in server.headers}
        if server.always_allow:
            entry["always_allow"] = list(server.always_allow)
        servers[server.name] = {k: v for k, v in entry.items() if v not in (None, [])}
    return {"max_tool_rounds": cfg.mcp.max_tool_rounds,
            "max_result_bytes": cfg.mcp.max_result_bytes,
            "start_timeout": cfg.mcp.start_timeout, "ask_wait": cfg.mcp.ask_wait,
            "servers": servers}


def masked_config(cfg: Config) -> dict[str, Any]:
    """The effective config for `config show`, secrets masked and unset values left out."""
    providers: dict[str, Any] = {}
    for name, provider in sorted(cfg.providers.items()):
        entry: dict[str, Any] = {}
        for item in fields(ProviderConfig):
            value = getattr(provider, item.name)
            if item.name == "name" or value is None:
                continue
            entry[item.name] = _masked_value(item.name, value, provider)
        providers[name] = entry
    shown: dict[str, Any] = {
        "path": str(cfg.path) if cfg.path else None,
        "default_provider": cfg.default_provider,
        "default_model": cfg.default_model,
        "system_prompt": cfg.system_prompt,
        "stream": cfg.stream,
        "theme": cfg.theme,
        "params": {k: v for k, v in cfg.params.to_dict().items() if v is not None},
        "keys": dict(cfg.keys),
        "providers": providers,
        "mcp": _masked_mcp(cfg),
        "attachments": asdict(cfg.attachments),
    }
    return {k: v for k, v in shown.items() if v is not None}
