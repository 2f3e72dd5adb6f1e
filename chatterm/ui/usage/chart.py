"""The usage screen's bar charts per day (tokens, cost), drawn by textual-plotext.

This module imports textual-plotext (and plotext) at the top: the screen imports it
only when it opens wide enough to show a chart, never at launch (a sys.modules test
checks). One bar per day, days without replies at 0; when the period has more days than
the chart has room for, the last days that fit are shown and the
title says how many (a bar needs a cell).
"""

from __future__ import annotations

from collections.abc import Sequence

from textual_plotext import PlotextPlot

# Cells the y axis' numbers and the frame take beside the bars.
_AXIS = 12


def _ticks(days: Sequence[str]) -> tuple[list[float], list[str]]:
    """First, middle and last day as MM-DD (every label would overlap)."""
    if not days:
        return [], []
    places = sorted({0, len(days) // 2, len(days) - 1})
    return [float(i) for i in places], [days[i][5:] for i in places]


class DayChart(PlotextPlot):
    """A bar per day of one series; `set_series` replaces it."""

    DEFAULT_CSS = """
    DayChart { width: 1fr; height: 1fr; }
    """

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.days: list[str] = []
        self.values: list[float] = []
        # What the last plot drew (tests read it): the days shown and the title.
        self.shown_days: list[str] = []
        self.shown_title = ""

    def set_series(self, days: Sequence[str], values: Sequence[float]) -> None:
        self.days, self.values = list(days), list(values)
        self._plot_series()

    def on_resize(self) -> None:
        self._plot_series()

    def _plot_series(self) -> None:
        room = max(7, self.size.width - _AXIS) if self.size.width else len(self.days)
        days, values = self.days[-room:], self.values[-room:]
        title = self.title if len(days) == len(self.days) else \
            f"{self.title} (last {len(days)} days)"
        plt = self.plt
        plt.clear_data()
        plt.title(title)
        if days:
            plt.bar(list(range(len(days))), values, width=0.6, marker="sd")
            ticks, labels = _ticks(days)
            plt.xticks(ticks, labels)
        self.shown_days, self.shown_title = days, title
        self.refresh()
