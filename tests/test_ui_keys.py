"""The key map: defaults, [keys] rebinding (taking effect in a running app), bad entries."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from textual.app import App, ComposeResult
from textual.command import CommandPalette
from textual.screen import Screen
from textual.widgets import Footer, Input, OptionList
from ui_helpers import wait_until

from chatterm.config import load_config
from chatterm.keymap import (
    ACTIONS,
    ACTIONS_BY_NAME,
    DEFAULT_KEYMAP,
    PALETTE_ACTIONS,
    actions_in,
    key_problem,
    keys_for,
    readme_keys_table,
    resolve_keys,
)
from chatterm.ui.app import ChattermApp
from chatterm.ui.chat.screen import ChatScreen
from chatterm.ui.commands import ChattermCommands
from chatterm.ui.keys import bindings_for, install_bindings


def test_defaults_cover_the_issue_keys() -> None:
    assert DEFAULT_KEYMAP["send"] == "enter"
    assert keys_for(DEFAULT_KEYMAP, "newline") == ["shift+enter", "ctrl+j", "alt+enter"]
    assert DEFAULT_KEYMAP["stop"] == "escape"
    assert DEFAULT_KEYMAP["retry"] == "ctrl+r"
    assert DEFAULT_KEYMAP["switch_model"] == "ctrl+o"
    assert DEFAULT_KEYMAP["toggle_sidebar"] == "ctrl+b"
    assert DEFAULT_KEYMAP["search_chats"] == "ctrl+f"
    assert DEFAULT_KEYMAP["new_chat"] == "ctrl+n"
    assert DEFAULT_KEYMAP["quit"] == "ctrl+q"
    # No two actions that work anywhere (the app's and the chat screen's) share a key.
    seen: dict[str, str] = {}
    for action, spec in DEFAULT_KEYMAP.items():
        for key in keys_for(DEFAULT_KEYMAP, action):
            if ACTIONS_BY_NAME[action].scope in ("app", "chat"):
                assert key not in seen, (key, action, seen.get(key))
                seen[key] = action
        assert spec == "" or key_problem(spec) is None


def test_every_action_is_described_once_and_bindings_come_from_the_registry() -> None:
    assert len(ACTIONS_BY_NAME) == len(ACTIONS)
    assert all(action.description and action.help and action.group for action in ACTIONS)
    assert all(action.palette_help for action in PALETTE_ACTIONS)
    for scope in ("app", "chat", "message"):
        bindings = bindings_for(scope)  # type: ignore[arg-type]
        assert [b.action for b in bindings] == [
            a.name for a in ACTIONS if a.scope == scope and a.default]
        for binding in bindings:
            action = ACTIONS_BY_NAME[binding.action]
            assert (binding.key, binding.description, binding.show, binding.priority) == (
                action.default, action.description, action.show, action.priority)
    # The app binds only what works on every screen; the chat's keys are the chat screen's.
    assert [b.action for b in bindings_for("app")] == ["quit"]
    assert [b.action for b in ChatScreen.BINDINGS if b.id] == [
        b.action for b in bindings_for("chat")]
    for action in actions_in("chat"):
        assert callable(getattr(ChatScreen, f"action_{action.name}", None)), action.name
        assert not hasattr(ChattermApp, f"action_{action.name}"), action.name
    for action in actions_in("app"):
        assert callable(getattr(ChattermApp, f"action_{action.name}", None)), action.name


def test_resolve_applies_valid_entries_and_reports_bad_ones() -> None:
    keymap, problems = resolve_keys({
        "switch_model": "f12",
        "bogus_action": "ctrl+x",
        "retry": "ctl+r",
        "new_chat": "f99x",
        "rename_chat": "ctrl+e",
        "quit": 3,
    })
    assert keymap["switch_model"] == "f12"
    # Rejected entries keep their defaults.
    assert keymap["retry"] == "ctrl+r"
    assert keymap["new_chat"] == "ctrl+n"
    assert keymap["rename_chat"] == "f2"
    assert keymap["quit"] == "ctrl+q"
    assert len(problems) == 5
    text = "\n".join(problems)
    assert "[keys] bogus_action: unknown action" in text
    assert "[keys] retry: 'ctl+r' has an unknown modifier 'ctl'" in text
    assert "[keys] new_chat: 'f99x' is not a key" in text
    assert "[keys] rename_chat: 'ctrl+e' opens the prompt in your editor" in text
    assert "[keys] quit: must be a string" in text
    assert all("\n" not in problem for problem in problems)


def test_resolve_suggests_close_action_names() -> None:
    _, problems = resolve_keys({"swich_model": "f12"})
    assert problems == ["[keys] swich_model: unknown action (did you mean switch_model?)"]


def test_taking_another_actions_key_moves_it_and_says_so() -> None:
    keymap, problems = resolve_keys({"stop": "ctrl+b"})
    assert keymap["stop"] == "ctrl+b"
    assert keymap["toggle_sidebar"] == ""
    assert problems == [
        "[keys] stop: 'ctrl+b' was the key for toggle_sidebar, which is now unbound"
    ]
    # Two user entries on one key: the second keeps its default.
    keymap, problems = resolve_keys({"retry": "f12", "new_chat": "f12"})
    assert keymap["retry"] == "f12"
    assert keymap["new_chat"] == "ctrl+n"
    assert len(problems) == 1 and "also given to" in problems[0]


def test_empty_string_unbinds() -> None:
    keymap, problems = resolve_keys({"retry": ""})
    assert keymap["retry"] == "" and problems == []
    assert "retry" not in {binding.action for binding in bindings_for("app", keymap)}


def test_keys_table_from_a_real_config_file(isolated_env: Any) -> None:
    path = isolated_env / "config" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text('[keys]\nswitch_model = "f12"\nzzz = "f4"\n', encoding="utf-8")
    config = load_config(path)
    keymap, problems = resolve_keys(config.keys)
    assert keymap["switch_model"] == "f12"
    assert problems == ["[keys] zzz: unknown action (known: " + ", ".join(ACTIONS_BY_NAME)
                        + ")"]


class KeysApp(App[None]):
    BINDINGS: ClassVar[list[Any]] = [*bindings_for("app"), *bindings_for("chat")]

    def __init__(self, config_keys: dict[str, str]) -> None:
        super().__init__()
        self.keymap, self.problems = resolve_keys(config_keys)
        install_bindings(self, self.keymap, "app")
        install_bindings(self, self.keymap, "chat")
        self.called: list[str] = []

    def compose(self) -> ComposeResult:
        yield Input(id="typing")
        yield Footer()

    def action_switch_model(self) -> None:
        self.called.append("switch_model")

    def action_toggle_sidebar(self) -> None:
        self.called.append("toggle_sidebar")

    def action_new_chat(self) -> None:
        self.called.append("new_chat")


async def test_rebinding_takes_effect_in_a_running_app() -> None:
    app = KeysApp({"switch_model": "f12", "new_chat": ""})
    async with app.run_test() as pilot:
        await pilot.press("ctrl+o")  # the old key does nothing now
        await pilot.press("f12")
        await pilot.press("ctrl+b")
        await pilot.press("ctrl+n")  # unbound
        await pilot.pause()
        assert app.called == ["switch_model", "toggle_sidebar"]
        # The footer shows the new key, not the old one.
        shown = {b.binding.action: b.binding.key for b in app.screen.active_bindings.values()}
        assert shown["switch_model"] == "f12"


async def test_default_bindings_work_while_typing_in_an_input() -> None:
    app = KeysApp({})
    async with app.run_test() as pilot:
        app.query_one("#typing", Input).focus()
        await pilot.press("h", "i", "ctrl+o")
        await pilot.pause()
        assert app.called == ["switch_model"]
        assert app.query_one("#typing", Input).value == "hi"


class ChatLikeScreen(Screen[None]):
    """Stands in for the chat screen, whose actions the palette runs ("chat" scope)."""

    def action_switch_model(self) -> None:
        self.app.called.append("switch_model")  # type: ignore[attr-defined]


class PaletteApp(KeysApp):
    COMMANDS: ClassVar[set[Any]] = {ChattermCommands}

    def get_default_screen(self) -> Screen[Any]:
        return ChatLikeScreen()

    def action_switch_model(self) -> None:
        raise AssertionError("a chat action runs on the screen, not the app")


@pytest.mark.slow
async def test_palette_lists_chatterm_commands_with_their_keys_and_runs_the_action() -> None:
    app = PaletteApp({"switch_model": "f12"})
    app.chatterm_keymap = app.keymap  # type: ignore[attr-defined]
    async with app.run_test() as pilot:
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
        await pilot.press(*"switch model")

        def hits() -> list[Any]:
            return [o.hit for o in app.screen.query_one(OptionList).options
                    if hasattr(o, "hit")]

        await wait_until(pilot, lambda: any(h.text == "Switch model" for h in hits()),
                         what="the Switch model command")
        [hit] = [h for h in hits() if h.text == "Switch model"]
        assert hit.help == "Pick another model or provider (f12)"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.called == ["switch_model"], what="the action")


class ScreenActionApp(PaletteApp):
    """A screen of its own with a chat-scope action, as the chat screen will have."""

    def on_mount(self) -> None:
        from textual.screen import Screen

        app = self

        class ChatLike(Screen[None]):
            def compose(self) -> ComposeResult:
                yield Input(id="typing")

            def action_tidy_chat(self) -> None:
                app.called.append("screen:tidy_chat")

        self.push_screen(ChatLike())


async def test_a_chat_scope_palette_entry_runs_on_the_screen_it_was_opened_over(
        monkeypatch: Any) -> None:
    from chatterm import keymap
    from chatterm.ui import commands

    tidy = keymap.KeyAction("tidy_chat", "", "Tidy", "Tidy this chat", "chat",
                            palette="Tidy chat", palette_help="Tidy this chat")
    monkeypatch.setattr(commands, "PALETTE_ACTIONS", (*keymap.PALETTE_ACTIONS, tidy))
    app = ScreenActionApp({})
    async with app.run_test() as pilot:
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
        await pilot.press(*"tidy chat")
        await wait_until(pilot, lambda: any(
            getattr(o, "hit", None) is not None and o.hit.text == "Tidy chat"
            for o in app.screen.query_one(OptionList).options), what="the Tidy chat entry")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.called == ["screen:tidy_chat"], what="the action")


def test_palette_titles_match_the_issue() -> None:
    titles = {action.palette for action in PALETTE_ACTIONS}
    assert {
        "Switch model", "New chat", "Rename chat", "Delete chat", "Export chat",
        "Copy last reply", "Edit system prompt", "Edit parameters", "Toggle sidebar",
        "Search chats", "Change theme",
    } <= titles


def test_the_readme_keys_tables_match_the_registry() -> None:
    """Every row (key, what it does, action name) and every group, in registry order."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("### Keys", 1)[1].split("\n### ", 1)[0]
    tables = section[section.index("#### "):].rstrip("\n") + "\n"
    assert tables == readme_keys_table()


class ReversedBindingsApp(App[None]):
    """Bindings declared in the reverse of the registry's order, with a focused widget
    holding message-scope keys: the footer must still follow the registry."""

    BINDINGS: ClassVar[list[Any]] = list(reversed([*bindings_for("app"),
                                                    *bindings_for("chat")]))

    def compose(self) -> ComposeResult:
        from textual.widgets import Static

        from chatterm.ui.widgets.key_footer import KeyFooter

        class Focusable(Static, can_focus=True):
            BINDINGS: ClassVar[list[Any]] = bindings_for("message")

        yield Focusable("a message", id="message")
        yield KeyFooter()


async def test_the_footer_follows_the_registry_order_focused_keys_first() -> None:
    from chatterm.ui.widgets.key_footer import KeyFooter

    app = ReversedBindingsApp()
    async with app.run_test(size=(200, 10)) as pilot:
        app.query_one("#message").focus()
        await pilot.pause()
        footer = app.query_one(KeyFooter)
        await wait_until(pilot, lambda: bool(footer.query("FooterKey")), what="footer keys")
        shown = [key.action for key in footer.query("FooterKey")
                 if not key.has_class("-command-palette")]
        expected = [a.name for a in ACTIONS if a.scope == "message" and a.show] + [
            a.name for a in ACTIONS if a.scope in ("app", "chat") and a.show and a.default]
        assert shown == expected
