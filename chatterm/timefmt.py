"""The one way chatterm says how long ago something happened.

The CLI's `list`, the app's sidebar and search hits, and the model list's "cached …" all
say it in the same words: "just now", "3 min ago", "5 h ago", "yesterday", "4 days ago",
and past a week the date (local time). Each fits in 10 columns, the width `list` gives it.
"""

from __future__ import annotations

import time

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def relative_time(timestamp: float, now: float | None = None) -> str:
    """How long before `now` (default: the clock) `timestamp` was, in words."""
    now = time.time() if now is None else now
    seconds = now - timestamp
    if seconds < MINUTE:
        return "just now"  # also for a clock a little ahead of ours
    if seconds < HOUR:
        return f"{int(seconds // MINUTE)} min ago"
    if seconds < DAY:
        return f"{int(seconds // HOUR)} h ago"
    if seconds < 2 * DAY:
        return "yesterday"
    if seconds < 7 * DAY:
        return f"{int(seconds // DAY)} days ago"
    return time.strftime("%Y-%m-%d", time.localtime(timestamp))
