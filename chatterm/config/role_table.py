"""Checking one role's table: `[roles.NAME]` in the config or a roles/NAME.toml file.

Unlike the rest of the config, a bad role does not stop the command: its problem is one
line naming where it is and the key, that role cannot be used, and every other role
still loads (chatterm.roles gathers them). Unknown keys are notes, as elsewhere.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from chatterm.config.schema import PARAM_KEYS, ROLE_KEYS, BadValue, suggest, type_name


@dataclass(slots=True)
class CheckedRole:
    """A role's checked settings, or the problem that makes it unusable."""

    settings: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None
    notes: list[str] = field(default_factory=list)


def check_role(table: Any, where: str, key_prefix: str,
               providers: dict[str, Any]) -> CheckedRole:
    """Check a role's table. `where` starts each line (the file, or the config's path);
    `key_prefix` goes before each key ("roles.NAME." in the config, "" in a role file);
    `providers` are the configured ones a role's `provider` must name."""
    checked = CheckedRole()

    def fail(key: str, problem: str) -> CheckedRole:
        checked.problem = f"{where}: {key_prefix}{key} {problem}"
        return checked

    if not isinstance(table, dict):
        checked.problem = f"{where}: {key_prefix.rstrip('.')} must be a table, not " \
                          f"{type_name(table)}"
        return checked
    for key, value in table.items():
        if key == "params":
            if not isinstance(value, dict):
                return fail("params", f"must be a table, not {type_name(value)}")
            for param, setting in value.items():
                checker = PARAM_KEYS.get(param)
                if checker is None:
                    checked.notes.append(_unknown(where, f"{key_prefix}params.{param}",
                                                  [f"{key_prefix}params.{k}" for k in PARAM_KEYS]))
                    continue
                try:
                    checked.params[param] = checker(setting)
                except BadValue as exc:
                    return fail(f"params.{param}", str(exc))
            continue
        checker = ROLE_KEYS.get(key)
        if checker is None:
            known = [f"{key_prefix}{k}" for k in ROLE_KEYS]
            known += [f"{key_prefix}params.{k}" for k in PARAM_KEYS]
            checked.notes.append(_unknown(where, f"{key_prefix}{key}", known))
            continue
        try:
            checked.settings[key] = checker(value)
        except BadValue as exc:
            return fail(key, str(exc))
    prompt = checked.settings.get("system_prompt", "")
    if not prompt.strip():
        return fail("system_prompt", "is required (the role's system prompt)")
    for key in ("provider", "model"):
        if key in checked.settings and not checked.settings[key].strip():
            return fail(key, "must not be empty (leave it out for the default)")
    provider = checked.settings.get("provider")
    if provider is not None and provider not in providers:
        return fail("provider", f"{provider!r} is not a configured provider"
                                f"{suggest(provider, providers)}")
    return checked


def _unknown(where: str, key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"{where}: unknown key {key!r} ignored{hint}"
