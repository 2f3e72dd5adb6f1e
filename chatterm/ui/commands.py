"""chatterm's commands in Textual's command palette (Ctrl+P).

Each command runs an app action by name, so the palette and the keys share one code
path: "Switch model" runs `app.run_action("switch_model")`, which calls the app's
`action_switch_model`. Add `ChattermCommands` to `App.COMMANDS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from chatterm.ui.keys import DEFAULT_KEYMAP


@dataclass(frozen=True, slots=True)
class PaletteCommand:
    title: str
    action: str  # the app action it runs, and the chatterm key-map action for its key
    help: str


PALETTE_COMMANDS: tuple[PaletteCommand, ...] = (
    PaletteCommand("Switch model", "switch_model", "Pick another model or provider"),
    PaletteCommand("New chat", "new_chat", "Start a new conversation"),
    PaletteCommand("Rename chat", "rename_chat", "Give the current chat another title"),
    PaletteCommand("Delete chat", "delete_chat", "Delete the current chat (asks first)"),
    PaletteCommand("Export chat", "export_chat", "Write the chat to a Markdown or JSON file"),
    PaletteCommand("Copy last reply", "copy_last_reply", "Copy the last reply to the clipboard"),
    PaletteCommand("Edit system prompt", "edit_system_prompt",
                   "Change the system prompt of this chat"),
    PaletteCommand("Edit parameters", "edit_params",
                   "Temperature, top P, max tokens, stop sequences, seed"),
    PaletteCommand("Toggle sidebar", "toggle_sidebar", "Show or hide the saved chats"),
    PaletteCommand("Search chats", "search_chats", "Search the text of all saved chats"),
    PaletteCommand("Change theme", "change_theme",
                   "Preview themes as you move; Enter keeps and saves one"),
    PaletteCommand("Retry reply", "retry", "Regenerate the last reply"),
    PaletteCommand("Continue reply", "continue_reply", "Resume an interrupted reply"),
)

PALETTE_ACTIONS: tuple[str, ...] = tuple(command.action for command in PALETTE_COMMANDS)
"""The app actions the palette calls; the app must define `action_<name>` for each."""


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

    def _runner(self, action: str) -> partial[object]:
        return partial(self.app.run_action, action)

    async def discover(self) -> Hits:
        keymap = self._keymap()
        for command in PALETTE_COMMANDS:
            yield DiscoveryHit(
                command.title,
                self._runner(command.action),
                text=command.title,
                help=command.help + key_hint(keymap, command.action),
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        keymap = self._keymap()
        for command in PALETTE_COMMANDS:
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(command.title),
                    self._runner(command.action),
                    text=command.title,
                    help=command.help + key_hint(keymap, command.action),
                )
