"""When to try a request again and how long to wait: backoff, jitter, Retry-After.

Policy (used by chatterm.api.client): 429 (honouring Retry-After, capped), 5xx and
connection failures are retried before the first byte of a reply, with exponential
backoff and jitter, up to `provider.max_retries`. Nothing is retried once a 200 has
arrived, and 4xx answers are never retried.

The backoff base delay is `ChatClient(..., backoff_base=...)`, else the environment
variable CHATTERM_BACKOFF_BASE (seconds; meant for tests that run the CLI), else
BACKOFF_BASE.
"""

from __future__ import annotations

import email.utils
import os
import random
from datetime import UTC, datetime

BACKOFF_BASE = 1.0  # seconds before the first retry; doubles each time
BACKOFF_MAX = 30.0
RETRY_AFTER_CAP = 60.0  # a server asking for longer is not waited for longer


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN guard
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_base(explicit: float | None = None) -> float:
    """The base delay: `explicit`, else $CHATTERM_BACKOFF_BASE, else BACKOFF_BASE."""
    if explicit is None:
        env = os.environ.get("CHATTERM_BACKOFF_BASE")
        try:
            explicit = float(env) if env else BACKOFF_BASE
        except ValueError:
            explicit = BACKOFF_BASE
    return max(0.0, explicit)


def backoff(attempt: int, base: float, rng: random.Random) -> float:
    """The wait before retry number `attempt` (1, 2, ...): doubling, capped, jittered."""
    delay = min(BACKOFF_MAX, base * 2.0 ** (attempt - 1))
    return delay * (0.5 + rng.random())  # jitter: 0.5x to 1.5x


def retry_delay(attempt: int, retry_after: float | None, *, base: float, cap: float,
                rng: random.Random) -> float:
    """The server's Retry-After (up to `cap`) when it gave one, else the backoff."""
    if retry_after is not None:
        return min(retry_after, cap)
    return backoff(attempt, base, rng)


def gave_up(message: str, attempts: int) -> str:
    """An error message that says how many retries came before it."""
    return f"{message} (gave up after {attempts} {'retry' if attempts == 1 else 'retries'})"
