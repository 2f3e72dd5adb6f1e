"""What `chatterm config set` checks beyond a value's type: that later commands can use it.

Loading stays lenient about these (an unknown theme or key is a note in the app, which
still starts), but a value typed on the command line is refused with one line and the file
is left as it was, so `config set` never writes something that breaks the next command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatterm.config.schema import suggest
from chatterm.errors import ConfigError

if TYPE_CHECKING:
    from chatterm.config.schema import Config


def check_setting(config: Config, parts: list[str]) -> None:
    """Raise ConfigError when the setting at `parts` cannot be used as `config` stands."""
    match parts:
        case ["default_provider"]:
            _check_default_provider(config)
        case ["theme"]:
            _check_theme(config.theme or "")
        case ["keys", action]:
            _check_key(config, action)


def _check_default_provider(config: Config) -> None:
    name = config.default_provider
    if name not in config.providers:
        raise ConfigError(
            f"default_provider {name!r} is not a provider{suggest(name, config.providers)}; "
            f"add it first with: chatterm config set providers.{name}.base_url URL"
        )


def _check_theme(name: str) -> None:
    from chatterm.locations import user_themes_dir
    from chatterm.theme_files import theme_names

    known = theme_names()
    if name not in known:
        raise ConfigError(
            f"theme {name!r} not found{suggest(name, known)}; "
            f"your own theme files go in {user_themes_dir()}"
        )


def _check_key(config: Config, action: str) -> None:
    from chatterm.keymap import resolve_key_notes

    _, notes = resolve_key_notes(config.keys)
    for note in notes:
        if note.action != action:
            continue
        if note.refused:
            raise ConfigError(f"keys.{action}: {note.detail}")
        # "'f2' was the key for rename_chat, which is now ctrl+x" is the rebinding working;
        # one that leaves the other action with no key at all (quit!) is refused here.
        if not note.left:
            other = note.took_from
            raise ConfigError(f"keys.{action}: {note.detail}; give {other} another key first "
                              f"(chatterm config set keys.{other} KEY)")
