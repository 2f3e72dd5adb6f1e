"""The model picker: the provider's models grouped by vendor, filtered fuzzily as you type.

The list shows at once from the built-in catalog and the last cached live list; the live
`/models` list loads in a worker and replaces it when it arrives. Tab switches provider.
Dismisses with (provider, model_id), or None when cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, ClassVar, Protocol

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static, Tab, Tabs
from textual.widgets.option_list import Option

if TYPE_CHECKING:
    from chatterm.catalog import ModelInfo
    from chatterm.model_list import ModelListing
    from chatterm.providers import ProviderConfig

# ---- fuzzy matching ---------------------------------------------------------------------

_SEPARATORS = frozenset("-_/.: @")
_MATCH = 1.0
_WORD_START = 2.0  # a hit at the start of a word ("4o" in "gpt-4o") counts extra
_RUN = 2.0  # a hit right after the previous hit: contiguous runs beat scattered letters
_FIRST = 1.0  # a hit on the very first character
_GAP_OPEN = 1.0  # leaving letters out between two hits costs a little...
_GAP_EACH = 0.05  # ...and a little more per letter skipped


def _word_starts(text: str) -> list[bool]:
    starts = []
    previous = ""
    for index, ch in enumerate(text):
        starts.append(
            index == 0
            or previous in _SEPARATORS
            or (previous.isalpha() and ch.isdigit())
            or (previous.isdigit() and ch.isalpha())
            or (previous.islower() and ch.isupper())
        )
        previous = ch
    return starts


def fuzzy_match(query: str, candidate: str) -> tuple[float, tuple[int, ...]] | None:
    """Score `candidate` for `query` as a case-insensitive subsequence.

    Returns (score, matched positions) or None. Words of the query match on their own,
    in any order ("70b llama" finds "llama-3-70b"), and all of them must match.
    """
    terms = query.lower().split()
    if not terms:
        return 0.0, ()
    total = 0.0
    positions: set[int] = set()
    for term in terms:
        found = _match_term(term, candidate)
        if found is None:
            return None
        total += found[0]
        positions.update(found[1])
    # Between equal alignments, prefer the shorter candidate (closer to what was typed).
    return total - len(candidate) * 0.01, tuple(sorted(positions))


def _match_term(needle: str, candidate: str) -> tuple[float, tuple[int, ...]] | None:
    """Best alignment of one lower-case word, by dynamic programming in
    O(len(needle) * len(candidate)), so a long id with many repeated letters cannot
    blow up the way enumerating every alignment can."""
    # Per character, so positions still line up where lower() lengthens one ("İ").
    hay = "".join(ch.lower()[0] for ch in candidate)
    # Cheap rejection first: most candidates fail the plain subsequence test.
    position = 0
    for ch in needle:
        position = hay.find(ch, position) + 1
        if position == 0:
            return None
    starts = _word_starts(candidate)
    n = len(hay)
    neg = float("-inf")
    # score[j]: best score of the needle so far with its last letter on hay[j].
    previous_scores: list[float] = []
    back: list[list[int]] = []
    for row, ch in enumerate(needle):
        scores = [neg] * n
        links = [-1] * n
        # Best previous-row score at k <= j - 2, as prev[k] + _GAP_EACH * k, so the gap
        # cost for any k is a constant away: a running maximum replaces an inner loop.
        best_before, best_at = neg, -1
        for j in range(n):
            if row > 0 and j >= 2:
                shifted = previous_scores[j - 2] + _GAP_EACH * (j - 2)
                if shifted > best_before:
                    best_before, best_at = shifted, j - 2
            if hay[j] != ch:
                continue
            gain = _MATCH + (_WORD_START if starts[j] else 0.0)
            if row == 0:
                scores[j] = gain + (_FIRST if j == 0 else 0.0)
                continue
            run = previous_scores[j - 1] + _RUN if j >= 1 else neg
            gap = best_before - _GAP_OPEN - _GAP_EACH * (j - 1) if best_at >= 0 else neg
            if run >= gap and run > neg:
                scores[j], links[j] = gain + run, j - 1
            elif gap > neg:
                scores[j], links[j] = gain + gap, best_at
        previous_scores = scores
        back.append(links)
    end = max(range(n), key=lambda j: previous_scores[j])
    total = previous_scores[end]
    if total == neg:
        return None
    positions = [end]
    for links in reversed(back[1:]):
        positions.append(links[positions[-1]])
    positions.reverse()
    return total, tuple(positions)


def highlight(text: str, positions: Sequence[int], style: str = "bold underline") -> Content:
    """`text` as plain Content (never parsed as markup) with `positions` styled."""
    content = Content(text)
    ordered = sorted(positions)
    index = 0
    while index < len(ordered):
        start = end = ordered[index]
        while index + 1 < len(ordered) and ordered[index + 1] == end + 1:
            index += 1
            end = ordered[index]
        content = content.stylize(style, start, end + 1)
        index += 1
    return content


def format_context(tokens: int) -> str:
    """128000 -> "128K", 131072 -> "128K", 1048576 -> "1M", 200000 -> "200K"."""

    def scaled(unit: int) -> float:
        # Round decimal sizes stay decimal; powers of two (131072) read as binary (128K).
        binary = 1024 if unit == 1000 else 1_048_576
        if tokens % unit and tokens % binary == 0:
            return tokens / binary
        return tokens / unit

    if tokens >= 1_000_000:
        return f"{scaled(1_000_000):.1f}".removesuffix(".0") + "M"
    if tokens >= 1000:
        return f"{round(scaled(1000))}K"
    return str(tokens)


# ---- where the models come from -----------------------------------------------------------


class ModelSource(Protocol):
    def cached(self, provider: ProviderConfig) -> list[ModelInfo]:
        """What can be shown at once: catalog plus the last cached live list."""

    async def live(self, provider: ProviderConfig) -> ModelListing:
        """The live list merged with the catalog (a note when it fell back offline)."""


class CatalogModelSource:
    """The real source: chatterm.catalog for the instant list, chatterm.model_list live.

    `key_for` resolves a provider's API key (default: chatterm.config.resolve_api_key);
    the app passes its own cached lookup so an api_key_command runs once per session.
    It is called in a worker thread.
    """

    def __init__(self, key_for: Callable[[ProviderConfig], str | None] | None = None) -> None:
        self._key_for = key_for

    def cached(self, provider: ProviderConfig) -> list[ModelInfo]:
        from chatterm.catalog import builtin_catalog, merge_models, read_cache

        found = read_cache(provider.name, base_url=provider.base_url)
        # Shown before the server has answered this session: a cached list may be old, so
        # no row is called missing from it until the live answer comes.
        return merge_models(builtin_catalog(provider.name), found[1] if found else None,
                            flag_missing=False)

    async def live(self, provider: ProviderConfig) -> ModelListing:
        from chatterm.config import resolve_api_key
        from chatterm.model_list import ModelListing, fetch_models
        from chatterm.ui import warmup

        # fetch_models imports the HTTP client, which the warm-up thread may be importing.
        await asyncio.to_thread(warmup.settle)

        # An api_key_command may take a moment: keep it off the event loop.
        api_key = await asyncio.to_thread(self._key_for or resolve_api_key, provider)
        if api_key is None and provider.needs_key:
            listing = await fetch_models(provider, None, refresh=False)
            where = provider.api_key_env or "an API key"
            return ModelListing(
                listing.models,
                f"no API key ({where} is not set): showing the catalog and cached list",
                listing.fetched_at,
            )
        return await fetch_models(provider, api_key, refresh=True)


# ---- the screen -----------------------------------------------------------------------------

CUSTOM_OPTION = "custom-model"


def _one_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class ModelPicker(ModalScreen[tuple[str, str] | None]):
    """Pick a model (and maybe another provider).

    Args:
        providers: the configured providers by name (Config.providers).
        provider: the conversation's current provider name.
        model: the conversation's current model id (marked with ●).
        source: where models come from; CatalogModelSource() by default.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", show=False),
        Binding("pagedown", "page(1)", show=False),
        Binding("tab", "switch_provider(1)", "Next provider"),
        Binding("shift+tab", "switch_provider(-1)", "Previous provider", show=False),
    ]

    def __init__(
        self,
        providers: Mapping[str, ProviderConfig],
        provider: str,
        model: str,
        *,
        source: ModelSource | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._providers = dict(providers)
        self._names = list(self._providers)
        if provider not in self._providers:
            # A conversation may name a provider later removed from the config.
            self._names.insert(0, provider)
        self._current = (provider, model)
        self._viewing = provider
        self._source = source or CatalogModelSource()
        self._models: dict[str, list[ModelInfo]] = {}
        self._notes: dict[str, str | None] = {}
        self._live_started: set[str] = set()
        self._option_models: dict[str, str] = {}

    @property
    def viewing(self) -> str:
        """The provider whose models are listed."""
        return self._viewing

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box"):
            yield Label("Switch model", id="picker-title")
            tabs = Tabs(
                *(Tab(name, id=f"provider-{i}") for i, name in enumerate(self._names)),
                active=f"provider-{self._names.index(self._viewing)}",
                id="picker-providers",
            )
            tabs.can_focus = False  # the filter keeps focus; Tab switches provider
            yield tabs
            yield Input(placeholder="Filter models, or type any model id", id="picker-filter")
            yield OptionList(id="picker-list")
            yield Static("", id="picker-note", markup=False)
            yield Static(
                "Enter pick · ↑↓ move · Tab provider · Esc cancel",
                id="picker-help",
                markup=False,
            )

    def on_mount(self) -> None:
        self.query_one("#picker-filter", Input).focus()
        self._show_provider(self._viewing)

    # -- data ---------------------------------------------------------------------------------

    def _show_provider(self, name: str) -> None:
        self._viewing = name
        config = self._providers.get(name)
        if name not in self._models:
            if config is None:
                self._models[name] = []
                self._notes[name] = f"provider {name!r} is not in the config"
            else:
                try:
                    self._models[name] = self._source.cached(config)
                except Exception as exc:  # a broken cache must not stop the picker
                    self._models[name] = []
                    self._notes[name] = f"could not read the model list: {_one_line(exc)}"
        self._rebuild()
        if config is not None and name not in self._live_started:
            self._live_started.add(name)
            self._notes[name] = "loading the live model list…"
            self.run_worker(
                partial(self._fetch_live, name, config), group="live-models",
                exit_on_error=False
            )
        self._show_note()

    async def _fetch_live(self, name: str, config: ProviderConfig) -> None:
        try:
            listing = await self._source.live(config)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # offline, bad key command...: the cached list stays
            self._notes[name] = f"could not load the live list: {_one_line(exc)}"
        else:
            self._models[name] = listing.models
            count = sum(1 for m in listing.models if m.kind == "chat")
            self._notes[name] = listing.note or f"{count} models (live list loaded)"
        if name == self._viewing and self.is_mounted:
            self._rebuild(keep=self._highlighted_model())
            self._show_note()

    def _show_note(self) -> None:
        note = self._notes.get(self._viewing) or ""
        widget = self.query_one("#picker-note", Static)
        widget.update(note)
        widget.set_class(note.startswith(("offline", "could not", "no API key")), "-problem")

    # -- the list -----------------------------------------------------------------------------

    def _highlighted_model(self) -> str | None:
        option = self.query_one("#picker-list", OptionList).highlighted_option
        if option is None or option.id is None:
            return None
        return self._option_models.get(option.id)

    def _query(self) -> str:
        return self.query_one("#picker-filter", Input).value.strip()

    def _rebuild(self, keep: str | None = None) -> None:
        from chatterm.catalog import OTHER_VENDOR

        query = self._query()
        models = [m for m in self._models.get(self._viewing, []) if m.kind == "chat"]
        scored: list[tuple[float, ModelInfo, tuple[int, ...]]] = []
        for model in models:
            hit = fuzzy_match(query, model.id)
            if hit is not None:
                scored.append((hit[0], model, hit[1]))
            elif query.lower() in f"{model.vendor} {model.name or ''}".lower():
                scored.append((0.0, model, ()))  # "anthropic" lists all of its models
        groups: dict[str, list[tuple[float, ModelInfo, tuple[int, ...]]]] = {}
        for item in scored:
            groups.setdefault(item[1].vendor, []).append(item)
        if query:
            order = sorted(groups, key=lambda v: -max(score for score, _, _ in groups[v]))
        else:
            order = sorted(groups, key=lambda v: (v == OTHER_VENDOR, v.lower()))

        current_provider, current_model = self._current
        mark_current = self._viewing == current_provider
        options: list[Option] = []
        self._option_models = {}
        for vendor in order:
            items = groups[vendor]
            items.sort(key=lambda item: (-item[0], item[1].id.lower()) if query
                       else item[1].id.lower())
            options.append(Option(Content.styled(f"{vendor} ({len(items)})", "bold"),
                                  disabled=True))
            for _score, model, positions in items:
                option_id = f"model-{len(self._option_models)}"
                self._option_models[option_id] = model.id
                is_current = mark_current and model.id == current_model
                options.append(Option(self._row(model, positions, is_current), id=option_id))
        known = {m.id for m in models}
        if query and query not in known and not any(ch.isspace() for ch in query):
            options.append(Option(Content.assemble(
                ("Use ", "italic"), (query, "bold"), (" anyway", "italic"),
                (" (not in the list)", "dim"),
            ), id=CUSTOM_OPTION))
        if not options:
            options.append(Option(Content.styled(
                "No models listed yet: type a model id to use it", "dim italic"),
                disabled=True))

        option_list = self.query_one("#picker-list", OptionList)
        option_list.set_options(options)
        wanted = keep or (current_model if mark_current and not query else None)
        target = next((oid for oid, mid in self._option_models.items() if mid == wanted), None)
        if target is not None:
            option_list.highlighted = option_list.get_option_index(target)
        else:
            option_list.action_first()
        option_list.scroll_to_highlight()

    @staticmethod
    def _row(model: ModelInfo, positions: Sequence[int], is_current: bool) -> Content:
        parts: list[str | Content | tuple[str, str]] = [
            ("● " if is_current else "  ", "bold"),
            highlight(model.id, positions),
        ]
        if model.name and model.name != model.id:
            parts.append((f"  {model.name}", "dim"))
        if model.context_length:
            parts.append((f"  {format_context(model.context_length)} ctx", "dim"))
        if model.missing_live:
            parts.append(("  (not in the live list)", "dim italic"))
        if is_current:
            parts.append(("  current", "italic"))
        return Content.assemble(*parts)

    # -- events and actions -------------------------------------------------------------------

    @on(Input.Changed, "#picker-filter")
    def _filter_changed(self) -> None:
        self._rebuild()

    @on(Input.Submitted, "#picker-filter")
    def _submitted(self) -> None:
        self._pick(self.query_one("#picker-list", OptionList).highlighted_option)

    @on(OptionList.OptionSelected, "#picker-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._pick(event.option)

    @on(Tabs.TabActivated, "#picker-providers")
    def _tab_activated(self, event: Tabs.TabActivated) -> None:
        event.stop()
        tab_id = event.tab.id or ""
        index = int(tab_id.removeprefix("provider-")) if tab_id.startswith("provider-") else -1
        if 0 <= index < len(self._names) and self._names[index] != self._viewing:
            self._show_provider(self._names[index])

    def _pick(self, option: Option | None) -> None:
        query = self._query()
        if option is not None and option.id in self._option_models:
            self.dismiss((self._viewing, self._option_models[option.id]))
        elif option is not None and option.id == CUSTOM_OPTION and query:
            self.dismiss((self._viewing, query))

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_move(self, step: int) -> None:
        option_list = self.query_one("#picker-list", OptionList)
        if step < 0:
            option_list.action_cursor_up()
        else:
            option_list.action_cursor_down()

    def action_page(self, step: int) -> None:
        option_list = self.query_one("#picker-list", OptionList)
        if step < 0:
            option_list.action_page_up()
        else:
            option_list.action_page_down()

    def action_switch_provider(self, step: int) -> None:
        if len(self._names) < 2:
            return
        index = (self._names.index(self._viewing) + step) % len(self._names)
        # Activating the tab posts TabActivated, which loads that provider's list.
        self.query_one("#picker-providers", Tabs).active = f"provider-{index}"
