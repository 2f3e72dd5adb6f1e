"""Textual bindings for chatterm's key map (the actions and checks are in chatterm.keymap).

Typical use in the app::

    keymap, problems = resolve_keys(config.keys)
    class ChattermApp(App):
        BINDINGS = app_bindings()                  # default keys, each with an id
    ...
    app.set_keymap(textual_keymap(keymap))         # applies the user's [keys] table
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from chatterm.keymap import (
    ACTIONS,
    ACTIONS_BY_NAME,
    DEFAULT_KEYMAP,
    KEY_HELP,
    RESERVED_KEYS,
    KeyAction,
    Scope,
    key_problem,
    keys_for,
    resolve_keys,
)

if TYPE_CHECKING:
    from textual.binding import Binding

__all__ = [
    "ACTIONS", "ACTIONS_BY_NAME", "BINDING_ID_PREFIX", "DEFAULT_KEYMAP", "KEY_HELP",
    "RESERVED_KEYS", "KeyAction", "Scope", "app_bindings", "binding_id", "key_problem",
    "keys_for", "resolve_keys", "textual_keymap",
]

BINDING_ID_PREFIX = "chatterm."


def binding_id(action: str) -> str:
    """The Binding id used for `action`, so Textual's keymap can rebind it."""
    return BINDING_ID_PREFIX + action


def textual_keymap(keymap: Mapping[str, str]) -> dict[str, str]:
    """Binding id -> keys, for `App.set_keymap`, covering app-scope actions that differ
    from their defaults. An unbound action maps to a key nobody can press."""
    result: dict[str, str] = {}
    for action, spec in keymap.items():
        info = ACTIONS_BY_NAME.get(action)
        if info is None or info.scope != "app" or spec == info.default:
            continue
        result[binding_id(action)] = spec or _NEVER
    return result


# Textual's keymap cannot remove a binding; a key name no terminal sends does that job.
_NEVER = "f24"


def app_bindings(keymap: Mapping[str, str] | None = None) -> list[Binding]:
    """Textual Bindings for every app-scope action, each with id `chatterm.<action>`.

    With no keymap the defaults are used (suitable for `App.BINDINGS`); rebinding is then
    done with `app.set_keymap(textual_keymap(keymap))`. Quit is a priority binding so it
    works from any widget; the others are not, so a modal's own keys win inside it.
    """
    from textual.binding import Binding

    keymap = DEFAULT_KEYMAP if keymap is None else keymap
    bindings: list[Binding] = []
    for action in ACTIONS:
        if action.scope != "app":
            continue
        spec = keymap.get(action.name, action.default) or _NEVER
        bindings.append(
            Binding(
                spec,
                action.name,
                action.description,
                show=action.show and spec != _NEVER,
                priority=action.name == "quit",
                tooltip=action.help,
                id=binding_id(action.name),
            )
        )
    return bindings
