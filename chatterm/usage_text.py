"""What `chatterm usage` and the app's usage screen share: reading --since, and the
figures as text (the table's columns, a cost, a day series for the chart)."""

from __future__ import annotations

import datetime as dt
import re
import time

from chatterm.errors import UsageError
from chatterm.store.usage import UsageLine, UsageReport

_DAYS = re.compile(r"(\d{1,5})d")
SINCE_HELP = "Nd (today and the N-1 days before, e.g. 7d, 30d) or a date (YYYY-MM-DD)"


def parse_since(text: str, now: float | None = None) -> float:
    """The Unix time `text` means: "7d" is local midnight six days ago (seven calendar
    days, today included, so the per-day table has no cut-off first day); a date
    (YYYY-MM-DD, or an ISO date and time) is that moment in local time."""
    text = text.strip().lower()
    today = dt.datetime.fromtimestamp(time.time() if now is None else now).date()
    match = _DAYS.fullmatch(text)
    if match:
        days = int(match.group(1))
        if days < 1:
            raise UsageError(f"--since {text}: at least 1d")
        first = today - dt.timedelta(days=days - 1)
        return dt.datetime.combine(first, dt.time()).timestamp()
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--since {text!r}: expected {SINCE_HELP}") from None
    return moment.timestamp()


def format_cost(cost: float | None) -> str:
    # Providers report fractions of a cent per reply: four decimals show them.
    return "-" if cost is None else f"{cost:,.4f}"


HEADERS = ("replies", "prompt", "completion", "tokens", "cost")


def cells(line: UsageLine) -> tuple[str, ...]:
    return (f"{line.replies:,}", f"{line.prompt_tokens:,}", f"{line.completion_tokens:,}",
            f"{line.tokens:,}", format_cost(line.cost))


def table(report: UsageReport) -> list[str]:
    """The report as aligned text lines: a header, one line per group, the totals."""
    rows: list[tuple[str, ...]] = [(report.by, *HEADERS)]
    rows += [(line.key, *cells(line)) for line in report.lines]
    rows.append(("total", *cells(report.total)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    text = ["  ".join([row[0].ljust(widths[0])]
                      + [cell.rjust(width)
                         for cell, width in zip(row[1:], widths[1:], strict=True)]).rstrip()
            for row in rows]
    text.insert(len(text) - 1, "-" * len(text[0]))
    return text


def cost_note(total: UsageLine) -> str:
    """Why a cost may be partial: the replies whose provider reported none."""
    if total.costed == total.replies:
        return ""
    if total.costed == 0:
        return "cost: no provider reported one"
    return (f"cost: reported for {total.costed:,} of {total.replies:,} replies "
            "(the others' providers report none)")


def since_label(since: float | None) -> str:
    if since is None:
        return "all time"
    return "since " + dt.datetime.fromtimestamp(since).strftime("%Y-%m-%d")


def day_series(report: UsageReport, until: float | None = None
               ) -> tuple[list[str], list[int], list[float]]:
    """Per-day tokens and costs of a `by="day"` report, every day from its first group
    (or its `since`) to today, days without replies at 0: a chart needs them all."""
    found = {line.key: line for line in report.lines}
    if not found:
        return [], [], []
    first = dt.date.fromisoformat(min(found)) if report.since is None else \
        dt.datetime.fromtimestamp(report.since).date()
    last = max(dt.date.fromisoformat(max(found)),
               dt.datetime.fromtimestamp(time.time() if until is None else until).date())
    days, tokens, costs = [], [], []
    day = first
    while day <= last:
        line = found.get(day.isoformat())
        days.append(day.isoformat())
        tokens.append(line.tokens if line else 0)
        costs.append((line.cost or 0.0) if line else 0.0)
        day += dt.timedelta(days=1)
    return days, tokens, costs


# When the table is wider than the screen: a long group name (a model's) is cut to
# KEY_SOFT cells first, then columns are given up in this order (the split of the
# tokens first, their sum stays; then the count of replies), then the name is cut
# further, never below KEY_MIN cells.
_DROP_ORDER = ("completion", "prompt", "replies")
KEY_SOFT = 24
KEY_MIN = 10


def table_rows(report: UsageReport) -> list[tuple[str, ...]]:
    """The header, a row per group and the totals row, as the CLI's table has them."""
    rows: list[tuple[str, ...]] = [(report.by, *HEADERS)]
    rows += [(line.key, *cells(line)) for line in report.lines]
    rows.append(("total", *cells(report.total)))
    return rows


def fit_table(report: UsageReport, width: int) -> list[str]:
    """The CLI's table (usage_text.table) when it fits in `width` cells; narrower, the
    columns of _DROP_ORDER go, then the group names are cut with "…"."""
    rows = table_rows(report)
    columns = list(range(len(rows[0])))
    header = rows[0]

    def widths(keep: list[int]) -> list[int]:
        return [max(len(row[i]) for row in rows) for i in keep]

    def total_width(keep: list[int], key_cap: int | None = None) -> int:
        sizes = widths(keep)
        if key_cap is not None:
            sizes[0] = min(sizes[0], key_cap)
        return sum(sizes) + 2 * (len(keep) - 1)

    cap = None if total_width(columns) <= width else KEY_SOFT
    for name in _DROP_ORDER:
        if total_width(columns, cap) <= width:
            break
        columns.remove(header.index(name))
    sizes = widths(columns)
    if cap is not None:
        sizes[0] = min(sizes[0], cap)
    over = sum(sizes) + 2 * (len(columns) - 1) - width
    if over > 0:
        sizes[0] = max(KEY_MIN, sizes[0] - over)
    lines = []
    for row in rows:
        key = row[0] if len(row[0]) <= sizes[0] else row[0][:sizes[0] - 1] + "…"
        cells = [key.ljust(sizes[0])] + [row[i].rjust(size)
                                         for i, size in zip(columns[1:], sizes[1:],
                                                            strict=True)]
        lines.append("  ".join(cells).rstrip())
    lines.insert(len(lines) - 1, "-" * len(lines[0]))
    return lines
