"""Textual bindings from chatterm's action registry (the actions and checks: chatterm.keymap).

Where bindings are declared::

    class ChattermApp(App):
        BINDINGS = bindings_for("app")             # default keys, each with an id
    ...
    keymap, problems = resolve_keys(config.keys)   # chatterm.keymap
    install_bindings(app, keymap, "app")           # the user's [keys] table, unbound = gone

A screen or widget does the same with its own scope ("chat", "message").
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

from chatterm.keymap import DEFAULT_KEYMAP, Scope, actions_in
from chatterm.ui import compat

if TYPE_CHECKING:
    from textual.binding import Binding
    from textual.dom import DOMNode

BINDING_ID_PREFIX = "chatterm."


def binding_id(action: str) -> str:
    """The Binding id used for `action`, so Textual's keymap can rebind it."""
    return BINDING_ID_PREFIX + action


def bindings_for(scope: Scope, keymap: Mapping[str, str] | None = None, *,
                 only: Collection[str] | None = None) -> list[Binding]:
    """Textual Bindings for every action of `scope`, each with id `chatterm.<action>`;
    an unbound action has none at all, so nothing shows it.

    With no keymap the defaults are used (suitable for `BINDINGS`); the user's keys are
    put in place with `install_bindings`. Only actions marked `priority` in the registry
    (quit) fire over a focused widget's own key, so a modal's own keys win inside it.
    """
    from textual.binding import Binding

    keymap = DEFAULT_KEYMAP if keymap is None else keymap
    bindings: list[Binding] = []
    for action in actions_in(scope):
        if only is not None and action.name not in only:
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
                priority=action.priority,
                tooltip=action.help,
                id=binding_id(action.name),
            )
        )
    return bindings


def install_bindings(node: DOMNode, keymap: Mapping[str, str], scope: Scope, *,
                     only: Collection[str] | None = None) -> None:
    """Replace `node`'s chatterm bindings of `scope` with the key map's.

    Textual's own keymap (`App.set_keymap`) can move a binding to other keys but never
    remove one, so an unbound action would still show in the footer under some key.
    Rebuilding the node's bindings leaves no trace of it. (The per-node copy Textual
    makes of the class BINDINGS, reached through chatterm.ui.compat; the tests of
    rebinding and unbinding would catch a change.)
    """
    from textual.binding import BindingsMap

    current = compat.node_bindings(node)
    wanted: dict[str | None, list[Binding]] = {}
    for _key, new in BindingsMap(bindings_for(scope, keymap, only=only)):
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
    compat.set_node_bindings(node, BindingsMap(bindings))
