"""Theme files (built-in and user), problems naming broken files, the live-preview picker
reached from the palette, and the choice persisting to the config."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Input, OptionList
from ui_helpers import wait_until

from chatterm.config import load_config
from chatterm.locations import config_file, user_themes_dir
from chatterm.ui.commands import ChattermCommands
from chatterm.ui.pickers.theme_picker import ThemePicker
from chatterm.ui.themes import (
    DEFAULT_THEME,
    LIGHT_THEME,
    apply_theme,
    builtin_theme_sources,
    load_themes,
    register_themes,
)

TCSS = Path(__file__).resolve().parent.parent / "chatterm" / "ui" / "chatterm.tcss"
E2_MARKER = "/* ---- E2: picker, sidebar, dialogs ---- */"


def e2_css() -> str:
    """Our section of the app's one stylesheet, so test apps look like the real one."""
    text = TCSS.read_text(encoding="utf-8") if TCSS.exists() else ""
    if E2_MARKER not in text:
        return ""
    section = text[text.index(E2_MARKER):]
    following = section.find("/* ---- ", len(E2_MARKER))
    return section if following < 0 else section[:following]


GOOD_USER_THEME = """
name = "my-sunset"
dark = true
primary = "#ff8800"
background = "#201010"
[variables]
footer-key-foreground = "#ffcc00"
"""


def write_user_theme(name: str, text: str | bytes) -> Path:
    folder = user_themes_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_builtin_dark_and_light_themes_load_cleanly() -> None:
    labels = [source.label for source in builtin_theme_sources()]
    assert "chatterm-dark.toml (built-in)" in labels
    assert "chatterm-light.toml (built-in)" in labels
    themes, problems = load_themes()
    assert problems == []
    by_name = {theme.name: theme for theme in themes}
    assert by_name[DEFAULT_THEME].dark is True
    assert by_name[LIGHT_THEME].dark is False
    assert by_name[DEFAULT_THEME].primary.startswith("#")


def test_each_broken_user_file_is_one_line_naming_the_file() -> None:
    write_user_theme("good.toml", GOOD_USER_THEME)
    broken = {
        "syntax.toml": 'name = "x"\nprimary = \n',
        "color.toml": 'name = "bad-color"\nprimary = "not-a-colour"\n',
        "noprimary.toml": 'name = "no-primary"\n',
        "binary.toml": b"\xff\xfe\x00junk",
        "sneaky.toml": 'name = "sneaky"\nprimary = "#fff"\n[variables]\n'
                       'border = "#fff; } Screen { display: none"\n',
        "style.toml": 'name = "style"\nprimary = "#fff"\n[variables]\n'
                      'block-cursor-text-style = "sparkly"\n',
    }
    for name, text in broken.items():
        write_user_theme(name, text)
    themes, problems = load_themes()
    names = {theme.name for theme in themes}
    assert "my-sunset" in names
    assert not names & {"x", "bad-color", "no-primary", "sneaky", "style"}
    assert len(problems) == len(broken)
    for name in broken:
        [line] = [p for p in problems if str(user_themes_dir() / name) in p]
        assert "\n" not in line
    assert any("primary 'not-a-colour' is not a valid color" in p for p in problems)
    assert any("primary is required" in p for p in problems)
    assert any("not valid UTF-8" in p for p in problems)
    assert any("invalid TOML" in p for p in problems)


def test_unknown_keys_are_reported_but_the_theme_still_loads() -> None:
    write_user_theme("typo.toml", 'name = "typo"\nprimary = "#123456"\nprimray = "#fff"\n')
    themes, problems = load_themes()
    assert "typo" in {t.name for t in themes}
    assert problems == [f"theme file {user_themes_dir() / 'typo.toml'}: "
                        "unknown key 'primray' ignored"]


def test_a_user_theme_without_name_uses_the_file_name() -> None:
    write_user_theme("ocean.toml", 'primary = "#0077be"\n')
    themes, _ = load_themes()
    assert "ocean" in {t.name for t in themes}


class ThemedApp(App[None]):
    """Starts like chatterm: register themes, apply the configured one, notify problems."""

    CSS = e2_css()
    COMMANDS: ClassVar[set[Any]] = {ChattermCommands}

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def compose(self) -> ComposeResult:
        yield Input(id="main-input")

    def on_mount(self) -> None:
        self.problems = register_themes(self)
        problem = apply_theme(self, load_config().theme)
        if problem:
            self.problems.append(problem)
        for line in self.problems:
            self.notify(line, severity="warning")

    def action_change_theme(self) -> None:
        self.push_screen(ThemePicker(config_file()))


async def test_app_starts_with_a_broken_theme_file_and_shows_the_problem() -> None:
    broken = write_user_theme("broken.toml", 'name = "broken"\nprimary = "#zzzzzz"\n')
    write_user_theme("good.toml", GOOD_USER_THEME)
    app = ThemedApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.theme == DEFAULT_THEME
        assert len(app.problems) == 1 and str(broken) in app.problems[0]
        assert [n.message for n in app._notifications] == app.problems
        # The good user theme is usable, and the app keeps working after switching.
        app.theme = "my-sunset"
        await pilot.press("a", "b")
        assert app.query_one("#main-input", Input).value == "ab"


async def test_unknown_configured_theme_falls_back_with_a_problem() -> None:
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('theme = "gone-theme"\n', encoding="utf-8")
    app = ThemedApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.theme == DEFAULT_THEME
        assert app.problems == [
            f"theme 'gone-theme' not found; using {DEFAULT_THEME} "
            "(see themes/ in the config dir)"
        ]


async def open_theme_picker_from_palette(pilot: Any, app: App[Any]) -> ThemePicker:
    await pilot.press("ctrl+p")
    await wait_until(pilot, lambda: app.screen.has_class("--textual-command-palette"),
                     what="the command palette")
    await pilot.press(*"change theme")
    await wait_until(pilot, lambda: "Change theme" in _palette_text(app),
                     what="the Change theme command")
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, ThemePicker), what="theme picker")
    return app.screen  # type: ignore[return-value]


def _palette_text(app: App[Any]) -> str:
    try:
        option_list = app.screen.query_one(OptionList)
    except Exception:
        return ""
    return " ".join(str(option.prompt) for option in option_list.options)


@pytest.mark.slow
async def test_theme_picker_previews_live_and_persists_the_choice() -> None:
    app = ThemedApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.theme == DEFAULT_THEME
        picker = await open_theme_picker_from_palette(pilot, app)
        # The current theme is highlighted first; moving the highlight previews.
        assert picker.highlighted_theme == DEFAULT_THEME
        await pilot.press("down")
        await wait_until(pilot, lambda: app.theme == LIGHT_THEME, what="live preview")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, ThemePicker),
                         what="picker closed")
        assert app.theme == LIGHT_THEME
    assert load_config().theme == LIGHT_THEME
    assert os.stat(config_file()).st_mode & 0o777 == 0o600

    # A new start picks the saved theme up.
    app = ThemedApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.theme == LIGHT_THEME


async def test_theme_picker_filter_and_escape_restores_the_theme() -> None:
    app = ThemedApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        app.action_change_theme()
        await wait_until(pilot, lambda: isinstance(app.screen, ThemePicker), what="picker")
        await pilot.press(*"nord")
        await wait_until(pilot, lambda: app.theme == "nord", what="preview of the filtered theme")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ThemePicker),
                         what="picker closed")
        assert app.theme == DEFAULT_THEME
    assert not config_file().exists()  # nothing saved on cancel


async def test_the_real_apps_palette_offers_one_theme_picker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ui_helpers import LOOP_KEY, LOOP_KEY_ENV, running, write_config

    monkeypatch.setenv(LOOP_KEY_ENV, LOOP_KEY)
    write_config(Path(os.environ["CHATTERM_CONFIG"]), "http://127.0.0.1:9/v1")
    async with running() as (app, pilot):
        await pilot.press("ctrl+p")
        # With nothing typed the palette lists every command; Textual's system commands
        # arrive together, so once "Quit" is there its "Theme" would be too.
        await wait_until(pilot, lambda: "Quit the application" in _palette_text(app)
                         and "Change theme" in _palette_text(app), what="all commands")
        text = _palette_text(app)
        assert "Change the current theme" not in text  # Textual's duplicate entry
        assert text.count("Preview themes as you move") == 1
