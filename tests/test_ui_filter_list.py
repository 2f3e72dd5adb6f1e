"""The one filter list (ui/pickers/filter_list.py): the box keeps the focus while ↑/↓ and
PgUp/PgDn move the list, Enter chooses; the model picker, the theme picker and the
sidebar all use it."""

from __future__ import annotations

from typing import Any

import pytest
from loopback import json_reply
from test_ui_picker import LIVE_MODELS, PickerHost, note, providers_for
from test_ui_sidebar import SidebarHost, add_conversation, store
from test_ui_themes import ThemedApp, e2_css, open_theme_picker_from_palette
from textual.app import App, ComposeResult
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option
from ui_helpers import wait_until

from chatterm.store import Store
from chatterm.ui.chat.sidebar import Sidebar
from chatterm.ui.pickers.filter_list import FilterList
from chatterm.ui.pickers.model_picker import ModelPicker
from chatterm.ui.pickers.theme_picker import ThemePicker

__all__ = ["store"]  # a fixture, used by name

WORDS = [f"item-{n:02d}" for n in range(40)]


class ListHost(App[None]):
    CSS = e2_css() + "\n#host-list { height: 1fr; }"

    def __init__(self) -> None:
        super().__init__()
        self.changed: list[str] = []
        self.selected: list[str | None] = []

    def compose(self) -> ComposeResult:
        yield FilterList(input_id="host-filter", list_id="host-list", placeholder="Filter")

    def on_mount(self) -> None:
        self.fill("")
        self.query_one(FilterList).focus_filter()

    def fill(self, query: str) -> None:
        shown = [word for word in WORDS if query in word]
        self.query_one(FilterList).set_options(Option(w, id=w) for w in shown)

    def on_filter_list_changed(self, event: FilterList.Changed) -> None:
        self.changed.append(event.query)
        self.fill(event.query)

    def on_filter_list_selected(self, event: FilterList.Selected) -> None:
        self.selected.append(event.option.id)


def highlighted_id(app: App[Any]) -> str | None:
    option = app.query_one(FilterList).highlighted_option
    return None if option is None else option.id


async def test_keys_move_and_page_the_list_while_the_box_keeps_the_focus() -> None:
    app = ListHost()
    async with app.run_test(size=(60, 14)) as pilot:
        box = app.query_one("#host-filter", Input)
        await wait_until(pilot, lambda: app.focused is box, what="the box focused")
        assert highlighted_id(app) == "item-00"
        await pilot.press("down", "down", "up")
        assert highlighted_id(app) == "item-01"
        await pilot.press("pagedown")
        paged = WORDS.index(highlighted_id(app) or "")
        assert paged > 3  # a page of rows, not one
        await pilot.press("pageup")
        assert highlighted_id(app) == "item-01"  # back by the same page
        assert app.focused is box
        await pilot.press(*" 3", "enter")
        assert app.changed[-1] == "3"  # surrounding spaces are not part of the query
        await wait_until(pilot, lambda: app.selected == ["item-03"], what="a choice")


async def test_enter_on_an_empty_list_chooses_nothing() -> None:
    app = ListHost()
    async with app.run_test(size=(60, 14)) as pilot:
        await pilot.press(*"zzz")
        await wait_until(pilot, lambda: app.query_one(OptionList).option_count == 0,
                         what="an empty list")
        await pilot.press("enter")
        assert app.selected == []
        assert highlighted_id(app) is None


@pytest.mark.slow
async def test_the_theme_picker_pages_with_the_same_widget() -> None:
    app = ThemedApp()
    async with app.run_test(size=(80, 24)) as pilot:
        picker = await open_theme_picker_from_palette(pilot, app)
        assert isinstance(picker, ThemePicker) and len(picker.query(FilterList)) == 1
        first = picker.highlighted_theme
        await pilot.press("pagedown")
        await wait_until(pilot, lambda: app.theme != first, what="a paged preview")
        assert app.focused is picker.query_one("#theme-filter", Input)
        assert (picker.query_one("#theme-list", OptionList).highlighted or 0) > 3


async def test_the_sidebar_pages_with_the_same_widget(store: Store) -> None:
    for n in range(30):
        add_conversation(store, f"Chat {n}", "m", 1000 - n)
    app = SidebarHost(store)
    async with app.run_test(size=(60, 20)) as pilot:
        sidebar = app.query_one(Sidebar)
        assert len(sidebar.query(FilterList)) == 1
        option_list = app.query_one("#sidebar-list", OptionList)
        await wait_until(pilot, lambda: option_list.option_count == 30, what="the list")
        await pilot.press("ctrl+f", "pagedown")
        await wait_until(pilot, lambda: (option_list.highlighted or 0) > 2, what="a page down")
        assert app.focused is app.query_one("#sidebar-search", Input)


async def test_the_model_picker_pages_with_the_same_widget(loopback: Any) -> None:
    loopback.always("models", json_reply(LIVE_MODELS))
    picker = ModelPicker(providers_for(loopback.url), "aimlapi", "gpt-4o")
    app = PickerHost(picker)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: "live list loaded" in note(picker), what="live list")
        assert len(picker.query(FilterList)) == 1
        option_list = picker.query_one("#picker-list", OptionList)
        before = option_list.highlighted or 0
        await pilot.press("pagedown")
        await wait_until(pilot, lambda: (option_list.highlighted or 0) > before + 3,
                         what="a page down")
        assert app.focused is picker.query_one("#picker-filter", Input)
