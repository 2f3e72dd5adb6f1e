"""What the app reads of the usage, through the engine (the UI never imports the store):
the usage screen's periods and its two queries (the grouping asked for, and days for the
chart), and a conversation's running total for the status bar.

The numbers are the store's `usage()`, the same call `chatterm usage` makes, with the
same `--since` rules (usage_text.parse_since): the screen and the CLI cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from chatterm import usage_text
from chatterm.store.usage import GROUPINGS, Grouping, UsageLine, UsageReport

__all__ = ["GROUPINGS", "PERIODS", "Grouping", "UsageFigures", "UsageLine",
           "UsageReport", "UsageSource", "load_figures"]

# (the CLI's --since, the label): None is all time.
PERIODS: tuple[tuple[str | None, str], ...] = (("7d", "7 days"), ("30d", "30 days"),
                                               (None, "all time"))


class UsageSource(Protocol):
    """The store's usage query (chatterm.store.Store is one): a read, run off the loop."""

    def usage(self, *, by: Grouping = "day", since: float | None = None,
              conversation_id: str | None = None) -> UsageReport: ...


@dataclass(frozen=True)
class UsageFigures:
    """One load of the screen: the table's report, and the per-day one for the chart
    (the same object when the table is per day)."""

    period: str | None
    report: UsageReport
    days: UsageReport
    # "now" as the load saw it: the chart's last day, the period's first.
    now: float | None = None


def load_figures(source: UsageSource, period: str | None, by: Grouping,
                 now: float | None = None) -> UsageFigures:
    """Both queries of one screen (call it off the event loop: it reads the database)."""
    if by not in GROUPINGS:
        raise ValueError(f"usage: unknown grouping {by!r}")
    since = usage_text.parse_since(period, now) if period else None
    report = source.usage(by=by, since=since)
    days = report if by == "day" else source.usage(by="day", since=since)
    return UsageFigures(period=period, report=report, days=days, now=now)


def next_period(period: str | None) -> str | None:
    keys = [key for key, _label in PERIODS]
    return keys[(keys.index(period) + 1) % len(keys)]


def period_label(period: str | None) -> str:
    return next(label for key, label in PERIODS if key == period)


def next_grouping(by: Grouping) -> Grouping:
    return GROUPINGS[(GROUPINGS.index(by) + 1) % len(GROUPINGS)]
