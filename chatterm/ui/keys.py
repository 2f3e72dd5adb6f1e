"""Textual bindings for chatterm's key map (the actions and checks are in chatterm.keymap).

Typical use in the app::

    keymap, problems = resolve_keys(config.keys)
    class ChattermApp(App):
        BINDINGS = app_bindings()                  # default keys, each with an id
    ...
    install_bindings(app, keymap, "app")           # the user's [keys] table, unbound = gone
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
    "RESERVED_KEYS", "KeyAction", "Scope", "app_bindings", "binding_id", "install_bindings",
    "key_problem", "keys_for", "resolve_keys",
]

BINDING_ID_PREFIX = "chatterm."


def binding_id(action: str) -> str:
    """The Binding id used for `action`, so Textual's keymap can rebind it."""
    return BINDING_ID_PREFIX + action


def app_bindings(keymap: Mapping[str, str] | None = None,
                 scope: Scope = "app") -> list[Binding]:
    """Textual Bindings for every action of `scope`, each with id `chatterm.<action>`;
    an unbound action has none at all, so nothing shows it.

    With no keymap the defaults are used (suitable for `App.BINDINGS`); the user's keys
    are put in place with `install_bindings`. Quit is a priority binding so it works from
    any widget; the others are not, so a modal's own keys win inside it.
    """
    from textual.binding import Binding

    keymap = DEFAULT_KEYMAP if keymap is None else keymap
    bindings: list[Binding] = []
    for action in ACTIONS:
        if action.scope != scope:
            continue
        spec = keymap.get(action.name, action.default)
        if not spec:
            continue
        bindings.append(
            Binding(
                spec,
                action.name,
                action.description,
                show=action.show,
                priority=action.name == "quit",
                tooltip=action.help,
                id=binding_id(action.name),
            )
        )
    return bindings


def install_bindings(node: object, keymap: Mapping[str, str], scope: Scope) -> None:
    """Replace `node`'s chatterm bindings (app or message scope) with the key map's.

    Textual's own keymap (`App.set_keymap`) can move a binding to other keys but never
    remove one, so an unbound action would still show in the footer under some key.
    Rebuilding the node's bindings leaves no trace of it. (`_bindings` is the per-node
    copy Textual makes of the class BINDINGS; Textual is pinned, and the tests of
    rebinding and unbinding would catch a change.)
    """
    from textual.binding import BindingsMap

    current: BindingsMap = node._bindings  # type: ignore[attr-defined]
    wanted: dict[str | None, list[Binding]] = {}
    for _key, new in BindingsMap(app_bindings(keymap, scope)):
        wanted.setdefault(new.id, []).append(new)
    # Each action's new keys take the place of its old ones, so the footer keeps its order.
    bindings: list[Binding] = []
    for _key, binding in current:
        if not (binding.id or "").startswith(BINDING_ID_PREFIX):
            bindings.append(binding)
        else:
            bindings.extend(wanted.pop(binding.id, []))
    for rest in wanted.values():
        bindings.extend(rest)
    node._bindings = BindingsMap(bindings)  # type: ignore[attr-defined]
