"""The sidebar: saved conversations newest first, and full-text search over all of them.

Typing in the search box runs `Store.search` (FTS5) after a short pause, in a thread, so
a large database never stalls typing. Hits show the matching words highlighted. Choosing
an item posts `Sidebar.Selected(conversation_id, message_id | None)`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Static
from textual.widgets.option_list import Option

from chatterm.conversation import HIT_END, HIT_START, ConversationSummary, SearchHit
from chatterm.timefmt import relative_time
from chatterm.ui import inert
from chatterm.ui.pickers.filter_list import FilterList

if TYPE_CHECKING:
    from chatterm.engine.protocols import ConversationIndex

HIT_STYLE = "bold reverse"


def _flat(text: str) -> str:
    """One display line: control characters made visible, line breaks as spaces."""
    return inert.line(text)


def snippet_content(snippet: str, style: str = HIT_STYLE, *, lead: int | None = None) -> Content:
    """An FTS snippet with HIT_START/HIT_END marks turned into styled spans.

    The text is never parsed as markup, so "[bold]" typed by a user or a model stays
    literal, and control characters are neutralised before they reach the terminal.
    With `lead`, text before the first hit is cut to about that many characters, so the
    hit stays visible in a narrow, one-line sidebar row.
    """
    parts: list[tuple[str, str]] = []
    hit = False
    for piece in snippet.replace(HIT_END, HIT_START).split(HIT_START):
        # Marks alternate start/end, so every other piece is a hit.
        text = inert.text(piece).replace("\n", " ").replace("\t", " ")
        if text:
            parts.append((text, style if hit else ""))
        hit = not hit
    if lead is not None and len(parts) > 1 and not parts[0][1] and len(parts[0][0]) > lead:
        before = parts[0][0]
        cut = before.find(" ", len(before) - lead)
        kept = before[cut + 1:] if 0 <= cut < len(before) - 1 else before[-lead:]
        parts[0] = ("…" + kept, "")
    return Content.assemble(*parts)


_ROLE_LABELS = {"user": "you", "assistant": "model"}


@dataclass(slots=True, frozen=True)
class _Target:
    conversation_id: str
    message_id: str | None


class Sidebar(Widget):
    """Saved conversations and search.

    Args:
        store: the open Store, or None when the database could not be opened.
        current_id: the conversation being shown, marked with ●.
        limit: how many recent conversations to list.
        debounce: seconds to wait after the last keystroke before searching.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "clear_search", "Clear search", show=False),
    ]

    class Selected(Message):
        """A conversation (or a search hit inside one) was chosen."""

        def __init__(self, sidebar: Sidebar, conversation_id: str, message_id: str | None):
            super().__init__()
            self.sidebar = sidebar
            self.conversation_id = conversation_id
            self.message_id = message_id

        @property
        def control(self) -> Sidebar:
            return self.sidebar

    def __init__(
        self,
        store: ConversationIndex | None,
        *,
        current_id: str | None = None,
        limit: int = 500,
        debounce: float = 0.15,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.store = store
        self.current_id = current_id
        self.limit = limit
        self.debounce = debounce
        self._summaries: list[ConversationSummary] = []
        self._hits: list[SearchHit] | None = None  # None: showing the plain list
        self._searched = ""
        self._targets: dict[str, _Target] = {}
        self._search_timer: Timer | None = None
        self._problem: str | None = None
        # Chats whose reply is streaming right now (maybe in the background).
        self.streaming_ids: frozenset[str] = frozenset()

    def compose(self) -> ComposeResult:
        yield FilterList(input_id="sidebar-search", list_id="sidebar-list",
                         placeholder="Search all chats (Ctrl+F)")
        yield Static("", id="sidebar-empty", markup=False)

    def on_mount(self) -> None:
        self.refresh_list()
        # Relative times age; redraw them now and then without touching the database.
        self.set_interval(60, self._redraw_times)

    # -- public API ---------------------------------------------------------------------------

    @property
    def search_text(self) -> str:
        return self.query_one(FilterList).filter_text

    @property
    def is_searching(self) -> bool:
        return self._hits is not None

    @property
    def hit_count(self) -> int:
        """How many search hits are listed (0 when showing the plain list)."""
        return len(self._hits) if self._hits is not None else 0

    def refresh_list(self) -> None:
        """Reload from the store (after a new, renamed or deleted chat), keeping any search."""
        self._load(self.search_text)

    def focus_search(self) -> None:
        self.query_one(FilterList).focus_filter(select=True)

    def focus_list(self) -> None:
        """Focus the list itself (↑/↓ then move it, Enter opens), as the sidebar opens."""
        self.query_one(FilterList).option_list.focus()

    def set_streaming(self, conversation_ids: frozenset[str]) -> None:
        if conversation_ids != self.streaming_ids:
            self.streaming_ids = conversation_ids
            if self.is_mounted:
                self._render_items()

    def set_current(self, conversation_id: str | None) -> None:
        self.current_id = conversation_id
        self._render_items()

    # -- loading ------------------------------------------------------------------------------

    def _load(self, query: str) -> None:
        if self.store is None:
            self._problem = "Saved chats are unavailable: the database could not be opened."
            self._render_items()
            return
        # Exclusive: a newer search cancels an older one, so stale hits never land. The
        # worker gets a callable, not a coroutine: one cancelled before it starts (a quit
        # right after a reply ends refreshes the list) would leave a coroutine never
        # awaited, and Python prints a RuntimeWarning on the terminal after exit.
        # Textual's WorkType is a union of callables; mypy infers Never for its result.
        self.run_worker(partial(self._fetch, self.store, query), group="sidebar-load",  # type: ignore[arg-type]
                        exclusive=True, exit_on_error=False)

    async def _fetch(self, store: ConversationIndex, query: str) -> None:
        try:
            if query:
                hits = await asyncio.to_thread(store.search, query, 100)
                self._hits, self._searched = hits, query
            else:
                summaries = await asyncio.to_thread(store.list_conversations, self.limit)
                self._summaries, self._hits, self._searched = summaries, None, ""
            self._problem = None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # StoreError and kin: say so, keep the sidebar usable
            self._problem = f"Could not read saved chats: {_flat(str(exc))}"
        self._render_items()

    # -- drawing ------------------------------------------------------------------------------

    def _render_items(self) -> None:
        filter_list = self.query_one(FilterList)
        highlighted = filter_list.highlighted_option
        keep = self._targets.get(highlighted.id or "") if highlighted is not None else None
        options: list[Option] = []
        self._targets = {}
        now = time.time()
        if self._hits is not None:
            for index, hit in enumerate(self._hits):
                option_id = f"hit-{index}"
                self._targets[option_id] = _Target(hit.conversation_id, hit.message_id)
                options.append(Option(self._hit_prompt(hit, now), id=option_id))
        else:
            for index, summary in enumerate(self._summaries):
                option_id = f"chat-{index}"
                self._targets[option_id] = _Target(summary.id, None)
                options.append(Option(self._summary_prompt(summary, now), id=option_id))
        target_index = next(
            (i for i, t in enumerate(self._targets.values()) if t == keep), None
        )
        if target_index is None and self._hits is None and self.current_id:
            target_index = next(
                (i for i, t in enumerate(self._targets.values())
                 if t.conversation_id == self.current_id), None)
        filter_list.set_options(options, target_index)

        empty = self.query_one("#sidebar-empty", Static)
        if self._problem:
            message = self._problem
        elif options:
            message = ""
        elif self._hits is not None:
            message = f"No saved chat contains “{_flat(self._searched)}”."
        else:
            message = "No saved chats yet. They appear here after your first prompt."
        empty.update(message)
        empty.set_class(not message, "-hidden")

    def _summary_prompt(self, summary: ConversationSummary, now: float) -> Content:
        # Two lines, each cut to the width by the stylesheet (text-wrap: nowrap): the age
        # goes first on the second line so a long model id never hides it.
        marker = ("● ", "bold") if summary.id == self.current_id else ("", "")
        live = ("streaming… · ", "bold $accent") if summary.id in self.streaming_ids else ""
        return Content.assemble(
            marker,
            (_flat(summary.title) or "Untitled", "bold"),
            "\n",
            live,
            (f"{relative_time(summary.updated_at, now)} · {_flat(summary.model)}", "dim"),
        )

    @staticmethod
    def _hit_prompt(hit: SearchHit, now: float) -> Content:
        role = _ROLE_LABELS.get(str(hit.role), str(hit.role))
        return Content.assemble(
            (_flat(hit.title) or "Untitled", "bold"),
            (f" · {relative_time(hit.created_at, now)}", "dim"),
            "\n",
            (f"{role}: ", "dim italic"),
            snippet_content(hit.snippet, lead=12),
        )

    def _redraw_times(self) -> None:
        if self.is_mounted:
            self._render_items()

    # -- events -------------------------------------------------------------------------------

    @on(FilterList.Changed)
    def _search_changed(self, event: FilterList.Changed) -> None:
        event.stop()
        if self._search_timer is not None:
            self._search_timer.stop()
        if not event.query:
            self._load("")  # back to the list at once
            return
        self._search_timer = self.set_timer(self.debounce, lambda: self._load(self.search_text))

    @on(FilterList.Selected)
    def _selected(self, event: FilterList.Selected) -> None:
        event.stop()
        self._choose(event.option.id)

    def _choose(self, option_id: str | None) -> None:
        target = self._targets.get(option_id or "")
        if target is not None:
            self.post_message(self.Selected(self, target.conversation_id, target.message_id))

    def action_clear_search(self) -> None:
        search = self.query_one(FilterList).filter_input
        if not search.value:
            raise SkipAction()  # let Esc mean "stop" to the app
        search.value = ""


def highlighted_terms(content: Content, style: str = HIT_STYLE) -> Sequence[str]:
    """The substrings of `content` carrying the hit style (used by tests and snapshots)."""
    plain = content.plain
    return [plain[span.start:span.end] for span in content.spans if span.style == style]
