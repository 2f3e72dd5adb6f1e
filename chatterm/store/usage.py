"""What the replies cost: tokens and the provider's reported cost, summed per group.

One aggregate query, and nothing is loaded into Python but the groups
(bench/bench_usage.py: 200,000 messages). From schema version 5 it sums the numeric
columns `prompt_tokens`, `completion_tokens` and `cost` that repeat the `usage` JSON
(store/attached.py), reading only the covering index `messages_usage`; a file left older
(opened read-only) is summed from the JSON itself, with the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from chatterm.store.base import StoreCore

Grouping = Literal["day", "model", "provider"]
GROUPINGS: tuple[Grouping, ...] = ("day", "model", "provider")

# Where a reply names no model or provider (an old import, say), its group says so.
UNKNOWN = "(unknown)"

_KEYS: dict[str, str] = {
    # The local calendar day, as the user counts days ('localtime' follows DST).
    "day": "date(created_at, 'unixepoch', 'localtime')",
    "model": f"coalesce(nullif(model, ''), '{UNKNOWN}')",
    "provider": f"coalesce(nullif(provider, ''), '{UNKNOWN}')",
}

# A number only when the JSON holds one: a file edited by hand (a string, a list) adds
# nothing rather than turning the sums into nonsense; json_valid keeps a damaged value
# from failing the whole query (json_extract raises on malformed JSON). SQLite caches the
# parsed JSON within a row, so the value is parsed once, not four times.
_NUMBER = ("CASE WHEN json_type(u, '$.{name}') IN ('integer', 'real') "
           "THEN json_extract(u, '$.{name}') END")
_INTEGER = ("CASE WHEN json_type(u, '$.{name}') = 'integer' "
            "THEN json_extract(u, '$.{name}') END")

_QUERY = """
SELECT k, count(*), sum(pt), sum(ct), sum(cost), count(cost) FROM (
    SELECT {key} AS k, {prompt} AS pt, {completion} AS ct, {cost} AS cost
    FROM (SELECT *, CASE WHEN json_valid(usage) THEN usage END AS u FROM messages
          WHERE role = 'assistant' AND created_at >= :since {conversation}
          -- A request that failed before any reply came saved no usage: not a reply.
          AND (state != 'error' OR usage IS NOT NULL))
)
GROUP BY k ORDER BY {order}
"""


# Schema 5: the same sums from columns of the index `messages_usage`. A failed reply counts
# when it reported numbers (the JSON query counts one with any usage at all: the same
# replies, since a Usage with no numbers is never saved by chatterm).
_COLUMN_QUERY = """
SELECT {key} AS k, count(*), sum(prompt_tokens), sum(completion_tokens), sum(cost),
       count(cost)
FROM messages {index}
WHERE {role} = 'assistant' AND created_at >= :since {conversation}
  AND (state != 'error' OR prompt_tokens IS NOT NULL OR completion_tokens IS NOT NULL
       OR cost IS NOT NULL)
GROUP BY k ORDER BY {order}
"""


# One conversation's totals (the status bar's, after every reply). The unary `+` keeps
# SQLite off `messages_usage` (its choice for `role = ?`: a walk over every reply, ~80 ms
# at 200,000 messages) and on the (conversation_id, position) index: its rows only.
_CONVERSATION_QUERY = """
SELECT count(*), sum(prompt_tokens), sum(completion_tokens), sum(cost), count(cost)
FROM messages
WHERE conversation_id = :cid AND +role = 'assistant'
  AND (state != 'error' OR prompt_tokens IS NOT NULL OR completion_tokens IS NOT NULL
       OR cost IS NOT NULL)
"""


@dataclass(frozen=True)
class UsageLine:
    """One group's sums (or the totals, `key` ''): `cost` is the sum of the costs the
    provider reported, over `costed` of the `replies` (None when none reported one)."""

    key: str
    replies: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None
    costed: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, Any]:
        return {"replies": self.replies, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "tokens": self.tokens,
                "cost": self.cost, "costed_replies": self.costed}


@dataclass(frozen=True)
class UsageReport:
    by: Grouping
    since: float | None
    lines: list[UsageLine]
    total: UsageLine


def total_of(lines: list[UsageLine]) -> UsageLine:
    costs = [line.cost for line in lines if line.cost is not None]
    return UsageLine(key="", replies=sum(line.replies for line in lines),
                     prompt_tokens=sum(line.prompt_tokens for line in lines),
                     completion_tokens=sum(line.completion_tokens for line in lines),
                     cost=sum(costs) if costs else None,
                     costed=sum(line.costed for line in lines))


class UsageStore(StoreCore):
    """The usage query of the store facade."""

    def usage(self, *, by: Grouping = "day", since: float | None = None,
              conversation_id: str | None = None) -> UsageReport:
        """The replies since `since` (a Unix time; None: all), summed per `by` group
        (days oldest first, models and providers by tokens, most first), with totals;
        `conversation_id` limits it to one conversation (every branch: all it cost)."""
        if by not in _KEYS:
            raise ValueError(f"usage: unknown grouping {by!r}")
        conversation = "AND conversation_id = :cid" if conversation_id else ""
        if self._has_v5:
            # One conversation: its rows by the (conversation_id, position) index; all of
            # them: the covering index, never the table.
            query = _COLUMN_QUERY.format(
                key=_KEYS[by], conversation=conversation,
                index="" if conversation_id else "INDEXED BY messages_usage",
                # One conversation: `+role` keeps SQLite on its own rows (see
                # _CONVERSATION_QUERY) rather than a walk of messages_usage.
                role="+role" if conversation_id else "role",
                order="k" if by == "day" else
                "coalesce(sum(prompt_tokens), 0) + coalesce(sum(completion_tokens), 0) DESC, k")
        else:
            query = _QUERY.format(
                key=_KEYS[by], prompt=_INTEGER.format(name="prompt_tokens"),
                completion=_INTEGER.format(name="completion_tokens"),
                cost=_NUMBER.format(name="cost"), conversation=conversation,
                order="k" if by == "day" else
                "coalesce(sum(pt), 0) + coalesce(sum(ct), 0) DESC, k")
        params = {"since": float(since) if since is not None else float("-inf"),
                  "cid": conversation_id}

        def work() -> list[UsageLine]:
            return [UsageLine(key=str(key), replies=int(replies), prompt_tokens=int(pt or 0),
                              completion_tokens=int(ct or 0),
                              cost=float(cost) if costed else None, costed=int(costed))
                    for key, replies, pt, ct, cost, costed
                    in self._conn.execute(query, params)]
        lines = self._run(work)
        return UsageReport(by=by, since=since, lines=lines, total=total_of(lines))

    def conversation_total(self, conversation_id: str) -> UsageLine:
        """What one conversation cost (every branch): `usage(conversation_id=...).total`,
        by that conversation's rows alone (schema 5; an older file: usage() itself)."""
        if not self._has_v5:
            return self.usage(by="provider", conversation_id=conversation_id).total

        def work() -> UsageLine:
            replies, pt, ct, cost, costed = self._conn.execute(
                _CONVERSATION_QUERY, {"cid": conversation_id}).fetchone()
            return UsageLine(key="", replies=int(replies), prompt_tokens=int(pt or 0),
                             completion_tokens=int(ct or 0),
                             cost=float(cost) if costed else None, costed=int(costed))
        return self._run(work)
