"""The usage screen: what the saved replies cost, the figures of `chatterm usage`.

Opened from the palette ("Usage"), or a key given in `[keys] show_usage`. `p` switches
the period (7 days, 30 days, all time), `g` the grouping (day, model, provider), Esc
closes. The table is the CLI's, cut to the width (usage_text.fit_table); under it, wide
and tall enough, a bar chart per day of the tokens and one of the cost
(ui/usage/chart.py, textual-plotext, imported when first shown). The queries run on a
thread (asyncio.to_thread): over 200,000 messages they take ~35 ms, but a damaged or
busy database must not freeze the app.

A screen of its own, not a dialog over the chat (as the tree view): its footer shows
its own keys, and the chat's widgets are not drawn under it.
"""

from __future__ import annotations

import asyncio
import time
from functools import partial
from importlib import import_module
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from chatterm import usage_text
from chatterm.engine.usage import (
    GROUPINGS,
    PERIODS,
    Grouping,
    UsageFigures,
    UsageSource,
    load_figures,
    next_grouping,
    next_period,
)
from chatterm.ui import inert
from chatterm.ui.widgets.key_footer import KeyFooter

if TYPE_CHECKING:
    from textual import events

    from chatterm.ui.usage.chart import DayChart

# The charts show from this size on; smaller, the table has the screen to itself.
CHART_MIN_WIDTH = 60
CHART_MIN_HEIGHT = 24


class UsageScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "period", "Period"),
        Binding("g", "grouping", "Group by"),
        Binding("escape", "close", "Close"),
    ]
    DEFAULT_CSS = """
    UsageScreen { background: $surface; padding: 0 1; }
    UsageScreen #usage-title { text-style: bold; color: $primary; height: 1; }
    UsageScreen .usage-choice { height: 1; width: 100%; text-wrap: nowrap;
                                text-overflow: ellipsis; }
    UsageScreen #usage-scroll { height: 1fr; margin-top: 1; }
    UsageScreen #usage-table { width: 100%; height: auto; text-wrap: nowrap; }
    UsageScreen #usage-note { color: $text-muted; height: auto; }
    UsageScreen #usage-charts { height: 14; }
    UsageScreen #usage-charts.-hidden { display: none; }
    UsageScreen KeyFooter { dock: bottom; width: 100%; }
    """

    def __init__(self, source: UsageSource | None, *, period: str | None = "30d",
                 by: Grouping = "day", now: float | None = None) -> None:
        """`now` freezes the clock (tests, the snapshot): the periods count back from it."""
        super().__init__()
        self.source = source
        self.period = period
        self.grouping: Grouping = by
        self._now = now
        self.figures: UsageFigures | None = None
        self.problem = ""
        # A plain flag, not Textual's `loading` (which blanks the whole screen behind a
        # loading indicator: a switch of period at 40 columns left only the footer in the
        # clean-clone CI's tmux test); the table on screen stays until the new one lands.
        self.busy = False
        self._charts: tuple[DayChart, DayChart] | None = None

    def compose(self) -> ComposeResult:
        yield Static("Usage: what the saved replies cost", id="usage-title", markup=False)
        yield Static("", id="usage-period", classes="usage-choice", markup=False)
        yield Static("", id="usage-by", classes="usage-choice", markup=False)
        with VerticalScroll(id="usage-scroll"):
            yield Static("", id="usage-table", markup=False)
            yield Static("", id="usage-note", markup=False)
        yield Horizontal(id="usage-charts", classes="-hidden")
        yield KeyFooter()

    def on_mount(self) -> None:
        self._draw_choices()
        self.load()

    # ---- the choices -------------------------------------------------------------------

    def _choice_line(self, name: str, options: list[tuple[str, str]], current: str) -> Content:
        parts: list[str | tuple[str, str]] = [(f"{name:<7}", "$text-muted")]
        for key, label in options:
            parts.append(("▸" + label, "bold $accent") if key == current else (" " + label, ""))
            parts.append("  ")
        return Content.assemble(*parts)

    def _draw_choices(self) -> None:
        self.query_one("#usage-period", Static).update(self._choice_line(
            "period", [(str(key), label) for key, label in PERIODS], str(self.period)))
        self.query_one("#usage-by", Static).update(self._choice_line(
            "by", [(key, key) for key in GROUPINGS], self.grouping))

    def action_period(self) -> None:
        self.period = next_period(self.period)
        self._draw_choices()
        self.load()

    def action_grouping(self) -> None:
        self.grouping = next_grouping(self.grouping)
        self._draw_choices()
        self.load()

    def action_close(self) -> None:
        self.dismiss(None)

    # ---- loading, off the event loop ---------------------------------------------------

    def load(self) -> None:
        if self.source is None:
            self._fail("Usage is unavailable: the database could not be opened.")
            return
        self.busy = True
        # A callable, not a coroutine (see ui/chat/sidebar.py); exclusive: a newer choice
        # cancels the older load, so stale figures never land.
        self.run_worker(partial(self._fetch, self.source, self.period, self.grouping),  # type: ignore[arg-type]
                        group="usage-load", exclusive=True, exit_on_error=False)

    async def _fetch(self, source: UsageSource, period: str | None, by: Grouping) -> None:
        now = self._now if self._now is not None else time.time()
        try:
            figures = await asyncio.to_thread(load_figures, source, period, by, now)
            if self._charts is None and self._charts_fit():
                # textual-plotext's import takes ~0.4 s: on a thread, not the event loop.
                await asyncio.to_thread(import_module, "chatterm.ui.usage.chart")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # StoreError and kin: one line, the screen stays usable
            self._fail(f"Could not read the usage: {inert.line(str(exc))}")
            return
        self.busy = False
        self.problem = ""
        self.figures = figures
        self._draw()

    def _fail(self, problem: str) -> None:
        self.busy = False
        self.problem = problem
        self.figures = None
        self.query_one("#usage-table", Static).update("")
        self.query_one("#usage-note", Static).update(problem)
        self.query_one("#usage-charts").set_class(True, "-hidden")

    # ---- drawing -----------------------------------------------------------------------

    @property
    def table_text(self) -> str:
        """The table as shown (plain text; for tests and the tmux check)."""
        return str(self.query_one("#usage-table", Static).render())

    @property
    def note_text(self) -> str:
        return str(self.query_one("#usage-note", Static).render())

    @property
    def charts_shown(self) -> bool:
        return self._charts is not None and \
            not self.query_one("#usage-charts").has_class("-hidden")

    @property
    def charts(self) -> tuple[DayChart, DayChart] | None:
        return self._charts

    def _draw(self) -> None:
        figures = self.figures
        if figures is None:
            return
        report = figures.report
        table = self.query_one("#usage-table", Static)
        if not report.lines:
            since = report.since
            table.update("no replies saved" if since is None
                         else f"no replies {usage_text.since_label(since)}")
        else:
            width = self.query_one("#usage-scroll").content_size.width or self.size.width
            table.update("\n".join(usage_text.fit_table(report, max(20, width))))
        note = usage_text.cost_note(report.total) if report.lines else ""
        self.query_one("#usage-note", Static).update(note)
        self._draw_charts(figures)

    def _charts_fit(self) -> bool:
        return self.size.width >= CHART_MIN_WIDTH and self.size.height >= CHART_MIN_HEIGHT

    def _draw_charts(self, figures: UsageFigures) -> None:
        box = self.query_one("#usage-charts", Horizontal)
        wanted = self._charts_fit() and bool(figures.days.lines)
        box.set_class(not wanted, "-hidden")
        if not wanted:
            return
        if self._charts is None:
            # textual-plotext (and plotext) load here, the first time a chart is shown.
            from chatterm.ui.usage.chart import DayChart

            self._charts = (DayChart("tokens per day", id="usage-tokens"),
                            DayChart("cost per day", id="usage-cost"))
            box.mount(*self._charts)
        days, tokens, costs = usage_text.day_series(figures.days, until=figures.now)
        tokens_chart, cost_chart = self._charts
        tokens_chart.set_series(days, tokens)
        costed = figures.days.total.costed
        cost_chart.title = "cost per day" if costed else "cost per day (none reported)"
        cost_chart.set_series(days, costs)

    def on_resize(self, event: events.Resize) -> None:
        self._draw()
