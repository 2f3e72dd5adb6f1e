"""The key hints the app shows (the idle line, a focused message's line), built from the
resolved key map, so a `[keys]` table changes them too and an unbound action drops out.

A hint names only keys the terminal can send: Shift+Enter (and other modified Enter keys)
reach the app as a key of their own only under the kitty keyboard protocol; elsewhere
they arrive as a plain Enter and would send the prompt (see chatterm.ui.terminal_keys).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from chatterm.keymap import keys_for

_NAMES = {
    "escape": "Esc", "enter": "Enter", "pageup": "PgUp", "pagedown": "PgDn",
    "up": "↑", "down": "↓", "left": "←", "right": "→", "delete": "Del",
    "left_square_bracket": "[", "right_square_bracket": "]",
}
# Modifiers a legacy terminal cannot send at all: they need the kitty protocol.
_KITTY_ONLY_MODIFIERS = frozenset({"super", "hyper", "meta"})


def key_label(key: str) -> str:
    """How a key is written in a hint: "ctrl+j" -> "Ctrl+J", "escape" -> "Esc", "c" -> "c"."""
    *modifiers, base = key.split("+")
    if not modifiers and len(base) == 1:
        return base  # a letter to press, as it is typed
    name = _NAMES.get(base.lower()) or (base.upper() if len(base) <= 3 else base.title())
    return "+".join([*(m.title() for m in modifiers), name])


def needs_kitty(key: str) -> bool:
    """True for keys that legacy terminals send as some other key (or not at all)."""
    *modifiers, base = key.lower().split("+")
    if _KITTY_ONLY_MODIFIERS & set(modifiers):
        return True
    # Shift+Enter and Ctrl+Enter are a bare CR, i.e. Enter; Alt+Enter is ESC CR (taught
    # to the parser as a key of its own at start-up).
    return base == "enter" and bool({"shift", "ctrl"} & set(modifiers))


def usable_keys(keymap: Mapping[str, str], action: str, *, kitty: bool) -> list[str]:
    """The keys of `action` this terminal can send, in the key map's order."""
    return [key for key in keys_for(keymap, action) if kitty or not needs_kitty(key)]


def _items(keymap: Mapping[str, str], wanted: Iterable[tuple[str, str]], *,
           kitty: bool) -> list[str]:
    items: list[str] = []
    for action, label in wanted:
        keys = usable_keys(keymap, action, kitty=kitty)
        if keys:
            items.append(f"{key_label(keys[0])} {label}")
    return items


def idle_hint(keymap: Mapping[str, str], *, kitty: bool) -> str:
    """The status line of an idle chat: "Enter sends · Ctrl+J newline · Ctrl+O model · …"."""
    return " · ".join(_items(keymap, [
        ("send", "sends"), ("newline", "newline"), ("switch_model", "model"),
        ("toggle_sidebar", "chats"),
    ], kitty=kitty))


def message_hint(keymap: Mapping[str, str], *, kitty: bool,
                 allowed: Callable[[str], bool] = lambda _action: True,
                 labels: Mapping[str, str] | None = None) -> str:
    """The status line while a message has the focus: the keys that act on it (`allowed`
    says which do, for this message), and the way back. The most used come first, since
    a narrow status line cuts the end off. `labels` renames an action's item (a tool
    call's "copy result")."""
    labels = labels or {}
    items: list[str] = []
    if allowed("previous_version") or allowed("next_version"):
        # One item for the pair: "←→ versions", or only the way there is one to go.
        keys = [usable_keys(keymap, action, kitty=kitty)
                for action in ("previous_version", "next_version") if allowed(action)]
        if keys and all(keys):
            items.append("".join(key_label(k[0]) for k in keys) + " versions")
    items += _items(keymap, [(action, labels.get(action, label)) for action, label in (
        ("edit_prompt", "edit"), ("regenerate", "regenerate"),
        ("regenerate_with", "other model"), ("copy_message", "copy"),
        ("copy_code", "copy code"), ("delete_message", "delete")) if allowed(action)],
        kitty=kitty)
    return " · ".join([*items, "↑↓ move", "Esc back"])
