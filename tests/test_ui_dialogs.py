"""Dialogs: confirm, text prompts (rename, system prompt), export, parameters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_ui_themes import e2_css
from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import Checkbox, Input, Label, TextArea
from ui_helpers import wait_until

from chatterm.conversation import Params
from chatterm.ui.dialogs.confirm import ConfirmDialog
from chatterm.ui.dialogs.export import ExportDialog
from chatterm.ui.dialogs.params import ParamsDialog
from chatterm.ui.dialogs.text_prompt import TextPrompt

NOT_YET = object()


class DialogHost(App[None]):
    """Pushes one dialog and records what it returns."""

    CSS = e2_css()

    def __init__(self, dialog: Screen[Any]) -> None:
        super().__init__()
        self.dialog = dialog
        self.result: Any = NOT_YET

    def compose(self) -> ComposeResult:
        yield Label("host")

    def on_mount(self) -> None:
        self.push_screen(self.dialog, self._done)

    def _done(self, result: Any) -> None:
        self.result = result


async def run_dialog(dialog: Screen[Any], *keys: str) -> Any:
    app = DialogHost(dialog)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.screen is dialog, what="dialog shown")
        await pilot.press(*keys)
        await wait_until(pilot, lambda: app.result is not NOT_YET, what="dialog result")
        return app.result


# ---- confirm --------------------------------------------------------------------------------


async def test_confirm_yes_and_no() -> None:
    assert await run_dialog(ConfirmDialog("Delete “a”?", danger=True), "y") is True
    assert await run_dialog(ConfirmDialog("Delete “a”?"), "n") is False
    assert await run_dialog(ConfirmDialog("Delete “a”?"), "escape") is False


@pytest.mark.slow
async def test_confirm_enter_hits_the_focused_cancel_button_first() -> None:
    # A stray Enter must not delete: the cancel button starts focused.
    assert await run_dialog(ConfirmDialog("Delete?"), "enter") is False
    assert await run_dialog(ConfirmDialog("Delete?"), "shift+tab", "enter") is True
    assert await run_dialog(ConfirmDialog("Delete?"), "left", "enter") is True
    assert await run_dialog(ConfirmDialog("Delete?"), "left", "right", "enter") is False


async def test_confirm_question_is_shown_literally() -> None:
    dialog = ConfirmDialog("Delete [bold]x[/bold]?")
    app = DialogHost(dialog)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.screen is dialog, what="dialog")
        text = str(dialog.query_one("#confirm-question").render())
        assert "[bold]x[/bold]" in text


# ---- text prompts -------------------------------------------------------------------------


async def test_rename_prompt_returns_the_new_title() -> None:
    dialog = TextPrompt("Rename chat", "Old title")
    # The old title starts selected, so typing replaces it.
    assert await run_dialog(dialog, *"New title", "enter") == "New title"


@pytest.mark.slow
async def test_rename_prompt_edits_initial_text_and_refuses_empty() -> None:
    dialog = TextPrompt("Rename chat", "Old")
    app = DialogHost(dialog)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.screen is dialog, what="dialog")
        field = dialog.query_one("#prompt-text", Input)
        assert field.value == "Old"
        field.value = ""
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog and app.result is NOT_YET
        assert dialog.error_text == "This cannot be empty."
        await pilot.press(*"  Fresh name  ", "enter")
        await wait_until(pilot, lambda: app.result is not NOT_YET, what="result")
        assert app.result == "Fresh name"


async def test_text_prompt_escape_cancels() -> None:
    assert await run_dialog(TextPrompt("Rename chat", "Old"), "escape") is None


async def test_system_prompt_is_multiline_and_saves_with_ctrl_s() -> None:
    dialog = TextPrompt("System prompt", "Be brief.", multiline=True, allow_empty=True)
    app = DialogHost(dialog)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.screen is dialog, what="dialog")
        assert isinstance(dialog.query_one("#prompt-text"), TextArea)
        await pilot.press("enter", *"Use French.")
        await pilot.pause()
        assert app.result is NOT_YET  # Enter made a new line, it did not submit
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.result is not NOT_YET, what="result")
        assert app.result == "Be brief.\nUse French."


async def test_system_prompt_may_be_cleared() -> None:
    dialog = TextPrompt("System prompt", "", multiline=True, allow_empty=True)
    assert await run_dialog(dialog, "ctrl+s") == ""


# ---- export -------------------------------------------------------------------------------


async def test_export_returns_path_and_format_and_toggle_swaps_the_extension(
    tmp_path: Path,
) -> None:
    target = tmp_path / "chat.md"
    dialog = ExportDialog(target)
    app = DialogHost(dialog)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.screen is dialog, what="dialog")
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert dialog.query_one("#export-path", Input).value == str(tmp_path / "chat.json")
        assert dialog.fmt == "json"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.result is not NOT_YET, what="result")
    assert app.result == (tmp_path / "chat.json", "json")


async def test_export_keeps_markdown_and_accepts_an_edited_path(tmp_path: Path) -> None:
    dialog = ExportDialog(tmp_path / "a.md")
    app = DialogHost(dialog)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.screen is dialog, what="dialog")
        dialog.query_one("#export-path", Input).value = str(tmp_path / "notes.txt")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.result is not NOT_YET, what="result")
    assert app.result == (tmp_path / "notes.txt", "markdown")


async def test_export_refuses_a_missing_folder_or_a_folder(tmp_path: Path) -> None:
    dialog = ExportDialog(tmp_path / "nope" / "chat.md")
    app = DialogHost(dialog)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.screen is dialog, what="dialog")
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog
        assert dialog.error_text == f"The folder {tmp_path / 'nope'} does not exist."
        dialog.query_one("#export-path", Input).value = str(tmp_path)
        await pilot.press("enter")
        await pilot.pause()
        assert dialog.error_text == f"{tmp_path} is a folder; add a file name."
        assert app.result is NOT_YET


# ---- parameters ---------------------------------------------------------------------------


async def test_params_dialog_invalid_input_stays_open_with_one_line_error() -> None:
    dialog = ParamsDialog(Params(temperature=0.2), "openai")
    app = DialogHost(dialog)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.screen is dialog, what="dialog")
        temperature = dialog.query_one("#params-temperature", Input)
        assert temperature.value == "0.2"
        assert not dialog.query("#params-safe-prompt")  # Mistral only
        temperature.value = "abc"
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog and app.result is NOT_YET
        assert dialog.error_text == "Temperature must be a number from 0 up to 2 (got 'abc')."
        assert "\n" not in dialog.error_text
        temperature.value = "0.9"
        dialog.query_one("#params-max-tokens", Input).value = "512"
        dialog.query_one("#params-stop", Input).value = r"END, \n\n"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.result is not NOT_YET, what="result")
    assert app.result == Params(temperature=0.9, max_tokens=512, stop=["END", "\n\n"])


async def test_params_dialog_offers_safe_prompt_for_mistral() -> None:
    dialog = ParamsDialog(Params(), "mistral")
    app = DialogHost(dialog)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.screen is dialog, what="dialog")
        checkbox = dialog.query_one("#params-safe-prompt", Checkbox)
        assert checkbox.value is False
        checkbox.value = True
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.result is not NOT_YET, what="result")
    assert app.result == Params(safe_prompt=True)


async def test_params_dialog_escape_cancels() -> None:
    assert await run_dialog(ParamsDialog(Params(), "openai"), "escape") is None
