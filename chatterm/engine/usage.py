"""What the app reads of the usage, through the engine (the UI never imports the store):
the usage screen's periods and its two queries (the grouping asked for, and days for the
chart), and a conversation's running total for the status bar.

The numbers are the store's `usage()`, the same call `chatterm usage` makes, with the
same `--since` rules (usage_text.parse_since): the screen and the CLI cannot disagree.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from chatterm import usage_text
from chatterm.conversation import Message, MessageState, Role
from chatterm.store.usage import GROUPINGS, Grouping, UsageLine, UsageReport, total_of

if TYPE_CHECKING:
    from chatterm.engine.session import ChatSession

__all__ = ["GROUPINGS", "PERIODS", "Grouping", "UsageFigures", "UsageLine",
           "UsageReport", "UsageSource", "conversation_total", "load_figures",
           "total_text"]

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


# ---- a conversation's running total (the status bar) ---------------------------------


async def conversation_total(session: ChatSession,
                             run: Callable[..., Awaitable[Any]]) -> UsageLine | None:
    """The session's conversation summed as `chatterm usage` sums it: by the store's
    query, through `run` (the session's writer, so the reads come after its saves), when
    the conversation is saved; else from the replies in memory, by the same rules."""
    store = session.store
    if store is None or not session.saved:
        return in_memory_total(session.conversation.messages)
    query = getattr(store, "conversation_total", None)
    if query is None:  # a store without the usage query (a test's stand-in)
        return None
    total: UsageLine = await run(query, session.conversation.id)
    return total


def in_memory_total(messages: Iterable[Message]) -> UsageLine:
    """The store's rules on messages not saved: replies that report numbers (a failed
    one only if it does), their tokens, the cost where reported."""
    lines = []
    for message in messages:
        used = message.usage
        if message.role is not Role.ASSISTANT or used is None:
            continue
        if message.state is MessageState.ERROR and used.prompt_tokens is None \
                and used.completion_tokens is None and used.cost is None:
            continue
        lines.append(UsageLine(key="", replies=1, prompt_tokens=used.prompt_tokens or 0,
                               completion_tokens=used.completion_tokens or 0,
                               cost=used.cost, costed=int(used.cost is not None)))
    return total_of(lines)


def total_text(total: UsageLine | None) -> str:
    """"Σ 1,234 tok · $0.0123" (the cost only when a provider reported one; "" when
    nothing was used): what the status bar shows of the conversation's total."""
    if total is None or not total.replies or not (total.tokens or total.cost):
        return ""
    text = f"Σ {total.tokens:,} tok"
    if total.cost is not None:
        text += f" · ${total.cost:.4f}" if total.cost < 1 else f" · ${total.cost:,.2f}"
    return text
