"""The model picker: the provider's models grouped by vendor, filtered fuzzily as you type.

The list shows at once from the built-in catalog and the last cached live list; the live
`/models` list loads in a worker and replaces it when it arrives. Tab switches provider.
`ModelPicker` dismisses with (provider, model_id), or None when cancelled; the
multi-select mode of "Compare models" is `CompareModelPicker` (multi_picker.py), the
same list with marks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, Static, Tab, Tabs
from textual.widgets.option_list import Option

from chatterm.model_choices import (
    CatalogModelSource,
    ModelSource,
    format_context,
    offers_custom_id,
    rank_models,
)
from chatterm.ui import inert
from chatterm.ui.pickers.filter_list import FilterList, highlight

if TYPE_CHECKING:
    from chatterm.catalog import ModelInfo
    from chatterm.providers import ProviderConfig

# ---- the screen -----------------------------------------------------------------------------

CUSTOM_OPTION = "custom-model"

R = TypeVar("R")


def _one_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class ModelListScreen(ModalScreen[R | None], Generic[R]):
    """The model list of the pickers: providers as tabs, a filter box, rows by vendor.
    A subclass decides what choosing a row does (`_pick`) and which rows are marked.

    Args:
        providers: the configured providers by name (Config.providers).
        provider: the conversation's current provider name.
        model: the conversation's current model id (marked with ●).
        source: where models come from; CatalogModelSource() by default.
    """

    TITLE = "Switch model"
    HELP = "Enter pick · ↑↓ move · Tab provider · Esc cancel"
    # Keys the filter box leaves to this screen's bindings instead of typing them.
    FILTER_PASSES: ClassVar[frozenset[str]] = frozenset()

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
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
            yield Label(self.TITLE, id="picker-title")
            tabs = Tabs(
                *(Tab(name, id=f"provider-{i}") for i, name in enumerate(self._names)),
                active=f"provider-{self._names.index(self._viewing)}",
                id="picker-providers",
            )
            tabs.can_focus = False  # the filter keeps focus; Tab switches provider
            yield tabs
            yield FilterList(input_id="picker-filter", list_id="picker-list",
                             placeholder="Filter models, or type any model id",
                             passes=self.FILTER_PASSES)
            yield Static("", id="picker-note", markup=False)
            yield from self.compose_extra()
            yield Static(self.HELP, id="picker-help", markup=False)

    def compose_extra(self) -> ComposeResult:
        """Widgets a subclass shows between the note and the help line."""
        yield from ()

    def on_mount(self) -> None:
        self.query_one(FilterList).focus_filter()
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
            fetch = partial(self._fetch_live, name, config)
            # Textual's WorkType is a union of callables; mypy infers Never for its result.
            self.run_worker(fetch, group="live-models", exit_on_error=False)  # type: ignore[arg-type]
        self._show_note()

    async def _fetch_live(self, name: str, config: ProviderConfig) -> None:
        from chatterm.ui import warmup

        try:
            # Listing imports the HTTP client, which the warm-up thread may be importing.
            await asyncio.to_thread(warmup.settle)
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
            self._rebuild(keep=self.highlighted_model)
            self._show_note()

    def _show_note(self) -> None:
        note = self._notes.get(self._viewing) or ""
        widget = self.query_one("#picker-note", Static)
        widget.update(note)
        widget.set_class(note.startswith(("offline", "could not", "no API key")), "-problem")

    # -- the list -----------------------------------------------------------------------------

    @property
    def highlighted_model(self) -> str | None:
        """The id of the model the list's cursor is on, if any."""
        option = self.query_one(FilterList).highlighted_option
        if option is None or option.id is None:
            return None
        return self._option_models.get(option.id)

    def _rebuild(self, keep: str | None = None) -> None:
        filter_list = self.query_one(FilterList)
        query = filter_list.filter_text
        models = self._models.get(self._viewing, [])
        current_provider, current_model = self._current
        mark_current = self._viewing == current_provider
        options: list[Option] = []
        self._option_models = {}
        for group in rank_models(models, query):
            vendor = inert.line(group.vendor)  # a server's words, like the ids below
            options.append(Option(Content.styled(f"{vendor} ({len(group.models)})", "bold"),
                                  disabled=True))
            for ranked in group.models:
                option_id = f"model-{len(self._option_models)}"
                self._option_models[option_id] = ranked.model.id
                is_current = mark_current and ranked.model.id == current_model
                options.append(Option(self.row(ranked.model, ranked.positions, is_current,
                                                self.is_marked(self._viewing, ranked.model.id)),
                                      id=option_id))
        if offers_custom_id(query, models):
            options.append(Option(Content.assemble(
                ("Use ", "italic"), (query, "bold"), (" anyway", "italic"),
                (" (not in the list)", "dim"),
            ), id=CUSTOM_OPTION))
        if not options:
            options.append(Option(Content.styled(
                "No models listed yet: type a model id to use it", "dim italic"),
                disabled=True))

        wanted = keep or (current_model if mark_current and not query else None)
        target = next((oid for oid, mid in self._option_models.items() if mid == wanted), None)
        index = None
        if target is not None:
            index = next(i for i, option in enumerate(options) if option.id == target)
        filter_list.set_options(options, index)
        filter_list.option_list.scroll_to_highlight()

    def is_marked(self, provider: str, model_id: str) -> bool:
        """Whether a row shows a ✓ (the multi-select mode's picks)."""
        return False

    @staticmethod
    def row(model: ModelInfo, positions: Sequence[int], is_current: bool,
            marked: bool = False) -> Content:
        mark = ("✓ ", "bold $success") if marked else ("● " if is_current else "  ", "bold")
        parts: list[str | Content | tuple[str, str]] = [
            mark,
            highlight(*inert.marked(model.id, positions)),
        ]
        if model.name and model.name != model.id:
            parts.append((f"  {inert.line(model.name)}", "dim"))
        if model.context_length:
            parts.append((f"  {format_context(model.context_length)} ctx", "dim"))
        if model.vision:  # takes images (chatterm.vision): where an attachment can go
            parts.append(("  images", "dim"))
        if model.missing_live:
            parts.append(("  (not in the live list)", "dim italic"))
        if is_current:
            parts.append(("  current", "italic"))
        return Content.assemble(*parts)

    # -- events and actions -------------------------------------------------------------------

    @on(FilterList.Changed)
    def _filter_changed(self, event: FilterList.Changed) -> None:
        event.stop()
        self._rebuild()

    @on(FilterList.Selected)
    def _selected(self, event: FilterList.Selected) -> None:
        event.stop()
        self._pick(event.option)

    @on(Tabs.TabActivated, "#picker-providers")
    def _tab_activated(self, event: Tabs.TabActivated) -> None:
        event.stop()
        tab_id = event.tab.id or ""
        index = int(tab_id.removeprefix("provider-")) if tab_id.startswith("provider-") else -1
        if 0 <= index < len(self._names) and self._names[index] != self._viewing:
            self._show_provider(self._names[index])

    def option_model(self, option: Option) -> tuple[str, str] | None:
        """The (provider, model id) a row stands for (the custom row: the typed id)."""
        query = self.query_one(FilterList).filter_text
        if option.id in self._option_models:
            return self._viewing, self._option_models[option.id]
        if option.id == CUSTOM_OPTION and query:
            return self._viewing, query
        return None

    def refresh_rows(self) -> None:
        """Draw the rows again, the cursor kept where it is."""
        highlighted = self.query_one(FilterList).option_list.highlighted
        self._rebuild()
        option_list = self.query_one(FilterList).option_list
        if highlighted is not None and highlighted < option_list.option_count:
            option_list.highlighted = highlighted

    def _pick(self, option: Option) -> None:
        raise NotImplementedError

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_switch_provider(self, step: int) -> None:
        if len(self._names) < 2:
            return
        index = (self._names.index(self._viewing) + step) % len(self._names)
        # Activating the tab posts TabActivated, which loads that provider's list.
        self.query_one("#picker-providers", Tabs).active = f"provider-{index}"


class ModelPicker(ModelListScreen[tuple[str, str]]):
    """Pick a model (and maybe another provider); the arguments are ModelListScreen's."""

    def _pick(self, option: Option) -> None:
        picked = self.option_model(option)
        if picked is not None:
            self.dismiss(picked)
