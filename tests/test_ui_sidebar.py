"""The sidebar against a real Store: listing newest first, FTS search with highlighted
hits, selection messages, refresh, empty states."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import pytest
from test_ui_themes import e2_css
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Input, OptionList, Static
from ui_helpers import wait_until

from chatterm.conversation import Conversation, Message, Role
from chatterm.store import Store
from chatterm.ui.chat.sidebar import (
    HIT_STYLE,
    Sidebar,
    highlighted_terms,
    snippet_content,
)


@pytest.fixture
def store() -> Iterator[Store]:
    opened = Store.open()  # the isolated temp data dir from conftest
    try:
        yield opened
    finally:
        opened.close()


def add_conversation(store: Store, title: str, model: str, age: float,
                     texts: Sequence[tuple[Role, str]] = ()) -> Conversation:
    # Ages are from the moment of the call: the suite may run long after import.
    when = time.time() - age
    conv = Conversation(provider="loop", model=model, title=title,
                        created_at=when, updated_at=when)
    conv.messages = [Message(role=role, content=text, created_at=when)
                     for role, text in texts]
    store.create_conversation(conv)
    return conv


class SidebarHost(App[None]):
    CSS = e2_css()
    BINDINGS: ClassVar[list[Any]] = [Binding("ctrl+f", "search_chats")]

    def __init__(self, store: Store | None, current_id: str | None = None) -> None:
        super().__init__()
        self.store = store
        self.current_id = current_id
        self.selected: list[tuple[str, str | None]] = []

    def compose(self) -> ComposeResult:
        yield Input(id="elsewhere")
        yield Sidebar(self.store, current_id=self.current_id, debounce=0.05)

    def on_mount(self) -> None:
        self.query_one("#elsewhere", Input).focus()

    def action_search_chats(self) -> None:
        self.query_one(Sidebar).focus_search()

    def on_sidebar_selected(self, event: Sidebar.Selected) -> None:
        self.selected.append((event.conversation_id, event.message_id))


def items(app: App[Any]) -> list[str]:
    return [str(o.prompt) for o in app.query_one("#sidebar-list", OptionList).options]


def empty_text(app: App[Any]) -> str:
    widget = app.query_one("#sidebar-empty", Static)
    return "" if widget.has_class("-hidden") else str(widget.render())


# ---- pure helpers -------------------------------------------------------------------------


def test_a_long_lead_before_the_first_hit_is_cut_so_the_hit_shows() -> None:
    snippet = "…a long run of words that says nothing yet and then \x02egg\x03 boils"
    content = snippet_content(snippet, lead=12)
    assert content.plain == "…and then egg boils"
    assert highlighted_terms(content) == ["egg"]
    assert snippet_content("short \x02egg\x03", lead=12).plain == "short egg"


def test_snippet_marks_become_spans_and_text_stays_literal() -> None:
    content = snippet_content("say \x02hello\x03 to [bold]me[/bold]\x1b[2J\nnow \x02hello\x03")
    assert content.plain == "say hello to [bold]me[/bold]␛[2J now hello"
    assert highlighted_terms(content) == ["hello", "hello"]
    assert all(span.style == HIT_STYLE for span in content.spans)


# ---- the widget ---------------------------------------------------------------------------


async def test_lists_newest_first_with_title_model_and_age(store: Store) -> None:
    old = add_conversation(store, "Old chat", "model-old", 30 * 3600)
    mid = add_conversation(store, "Middle chat", "model-mid", 180)
    new = add_conversation(store, "New chat", "model-new", 5)
    app = SidebarHost(store, current_id=mid.id)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: len(items(app)) == 3, what="three chats")
        assert items(app) == [
            "New chat\njust now · model-new",
            "● Middle chat\n3 min ago · model-mid",
            "Old chat\nyesterday · model-old",
        ]
        assert empty_text(app) == ""
        # The current chat starts highlighted; Enter on the list opens it.
        option_list = app.query_one("#sidebar-list", OptionList)
        assert option_list.highlighted == 1
        option_list.focus()
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: app.selected, what="a selection")
        assert app.selected == [(old.id, None)]
        assert new.id  # listed first above


async def test_empty_store_and_missing_store_explain_themselves(store: Store) -> None:
    app = SidebarHost(store)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: "No saved chats yet" in empty_text(app),
                         what="empty state")
    app = SidebarHost(None)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: "unavailable" in empty_text(app), what="no store")


async def test_search_shows_highlighted_hits_and_selects_the_message(store: Store) -> None:
    add_conversation(store, "Cooking", "m1", 600, [
        (Role.USER, "How long do I boil an egg?"),
        (Role.ASSISTANT, "About nine minutes for a hard egg."),
    ])
    physics = add_conversation(store, "Physics [draft]", "m2", 60, [
        (Role.USER, "Explain quantum tunnelling simply"),
        (Role.ASSISTANT, "In [bold]quantum[/bold] mechanics a particle can cross a barrier."),
    ])
    app = SidebarHost(store)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: len(items(app)) == 2, what="the list")
        await pilot.press("ctrl+f")
        assert app.focused is app.query_one("#sidebar-search", Input)
        await pilot.press(*"quantum")
        await wait_until(pilot, lambda: app.query_one(Sidebar).is_searching
                         and len(items(app)) == 2, what="two hits")
        option_list = app.query_one("#sidebar-list", OptionList)
        prompts = [option.prompt for option in option_list.options]
        assert all(str(p).startswith("Physics [draft]") for p in prompts)
        for prompt in prompts:
            assert [t.lower() for t in highlighted_terms(prompt)] == ["quantum"]
        # User and model text is shown literally, not as markup.
        assert any("In [bold]quantum[/bold] mechanics" in str(p) for p in prompts)
        # Down moves through hits from the search box; Enter opens at that message.
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: app.selected, what="a selection")
        conversation_id, message_id = app.selected[0]
        assert conversation_id == physics.id
        assert message_id in {m.id for m in physics.messages}


async def test_no_hits_then_clearing_returns_to_the_list(store: Store) -> None:
    add_conversation(store, "Only chat", "m", 30, [(Role.USER, "hello there")])
    app = SidebarHost(store)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: len(items(app)) == 1, what="the list")
        await pilot.press("ctrl+f", *"zebra")
        await wait_until(pilot, lambda: empty_text(app) == "No saved chat contains “zebra”.",
                         what="no-hits text")
        assert items(app) == []
        await pilot.press("escape")  # clears the search box
        await wait_until(pilot, lambda: items(app) == ["Only chat\njust now · m"],
                         what="back to the list")
        assert app.query_one("#sidebar-search", Input).value == ""


@pytest.mark.slow
async def test_search_text_with_fts_syntax_is_safe(store: Store) -> None:
    add_conversation(store, "Quotes", "m", 30, [(Role.USER, 'he said "NEAR" AND (x OR y)')])
    app = SidebarHost(store)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: len(items(app)) == 1, what="the list")
        await pilot.press("ctrl+f", *'"NEAR" AND (')
        await wait_until(pilot, lambda: app.query_one(Sidebar).is_searching, what="search")
        await pilot.pause(0.1)
        assert not empty_text(app).startswith("Could not")


async def test_refresh_list_picks_up_new_and_renamed_chats(store: Store) -> None:
    first = add_conversation(store, "First", "m", 120)
    app = SidebarHost(store)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: len(items(app)) == 1, what="the list")
        add_conversation(store, "Second", "m", 1)
        store.rename_conversation(first.id, "First, renamed")
        sidebar = app.query_one(Sidebar)
        sidebar.refresh_list()
        await wait_until(pilot, lambda: [i.split("\n")[0] for i in items(app)] == [
            "Second", "First, renamed"], what="refreshed list")
        store.delete_conversation(first.id)
        sidebar.refresh_list()
        await wait_until(pilot, lambda: len(items(app)) == 1, what="deleted chat gone")
