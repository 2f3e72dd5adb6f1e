"""chatterm's commands in Textual's command palette (Ctrl+P).

The entries are the registry's actions that have a palette title (chatterm.keymap), in
its order. Each runs its action by name, so the palette and the keys share one code path:
"Switch model" runs `app.run_action("switch_model")`, which calls `action_switch_model`.
Matching a typed query is Textual's own matcher here, not chatterm.fuzzy: the palette
ranks our entries together with Textual's system commands, on Textual's score scale.

This provider also lists Textual's system commands (Keys, Screenshot, ...), after ours.
With two providers the empty palette's order was whichever provider's task ran first,
and `App.COMMANDS` is a set, so that changed from one launch to the next. Make
`ChattermCommands` the app's only provider (`COMMANDS = {ChattermCommands}`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from chatterm.keymap import DEFAULT_KEYMAP, PALETTE_ACTIONS, KeyAction


def key_hint(keymap: Mapping[str, str], action: str) -> str:
    """" (ctrl+o)" style suffix, or "" for an action without a key."""
    spec = keymap.get(action, "")
    first = spec.split(",")[0].strip() if spec else ""
    return f" ({first})" if first else ""


class ChattermCommands(Provider):
    """Palette entries for chatterm's actions, with the key each is bound to.

    The key shown comes from the app's resolved [keys] map (`app.chatterm_keymap` or
    `app.keymap`, action -> keys) when it has one, else the defaults.
    """

    def _keymap(self) -> Mapping[str, str]:
        for attribute in ("chatterm_keymap", "keymap"):
            keymap = getattr(self.app, attribute, None)
            if isinstance(keymap, Mapping) and "switch_model" in keymap:
                return keymap
        return DEFAULT_KEYMAP

    def _runner(self, action: KeyAction) -> Callable[[], Awaitable[bool]]:
        # A chat-scope action is the screen's: it runs on the screen the palette was
        # opened over, as its key would.
        target = self.screen if action.scope == "chat" else None
        return partial(self.app.run_action, action.name, target)

    async def discover(self) -> Hits:
        keymap = self._keymap()
        for action in PALETTE_ACTIONS:
            yield DiscoveryHit(
                action.palette,
                self._runner(action),
                text=action.palette,
                help=action.palette_help + key_hint(keymap, action.name),
            )
        for command in sorted(self.app.get_system_commands(self.screen),
                              key=lambda command: command.title):
            if command.discover:
                yield DiscoveryHit(command.title, command.callback, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        keymap = self._keymap()
        for action in PALETTE_ACTIONS:
            score = matcher.match(action.palette)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(action.palette),
                    self._runner(action),
                    text=action.palette,
                    help=action.palette_help + key_hint(keymap, action.name),
                )
        for command in self.app.get_system_commands(self.screen):
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(score, matcher.highlight(command.title), command.callback,
                          help=command.help)
