"""The store's usage query and the text both front ends make of it (no process, no UI)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest

from chatterm import usage_text
from chatterm.conversation import Conversation, Message, MessageState, Role, Usage
from chatterm.errors import UsageError
from chatterm.store import Store


@pytest.fixture
def store() -> Iterator[Store]:
    opened = Store.open()
    try:
        yield opened
    finally:
        opened.close()


def _reply(conv: Conversation, when: float, usage: Usage | None, *,
           model: str | None = "m", state: MessageState = MessageState.COMPLETE) -> Message:
    return Message(role=Role.ASSISTANT, content="r", conversation_id=conv.id,
                   created_at=when, provider="p", model=model, usage=usage, state=state)


def _chat(store: Store) -> Conversation:
    conv = Conversation(provider="p", model="m", title="t")
    store.create_conversation(conv)
    return conv


def test_days_are_local_calendar_days_with_totals(store: Store) -> None:
    conv = _chat(store)
    noon = dt.datetime.combine(dt.date.today(), dt.time(12)).timestamp()
    for when, usage in ((noon - 86400, Usage(prompt_tokens=10, completion_tokens=1,
                                             cost=0.25)),
                        (noon, Usage(prompt_tokens=20, completion_tokens=2)),
                        (noon + 60, Usage(prompt_tokens=30, completion_tokens=3, cost=0.5))):
        store.add_message(Message(role=Role.USER, content="q", conversation_id=conv.id,
                                  created_at=when))
        store.add_message(_reply(conv, when, usage))
    report = store.usage(by="day")
    today, yesterday = dt.date.today().isoformat(), (dt.date.today()
                                                     - dt.timedelta(days=1)).isoformat()
    assert [(line.key, line.replies, line.tokens, line.cost, line.costed)
            for line in report.lines] == [(yesterday, 1, 11, 0.25, 1), (today, 2, 55, 0.5, 1)]
    assert (report.total.replies, report.total.tokens, report.total.cost,
            report.total.costed) == (3, 66, 0.75, 2)
    since_today = store.usage(by="day", since=usage_text.parse_since("1d"))
    assert [line.key for line in since_today.lines] == [today]
    days, tokens, costs = usage_text.day_series(store.usage(
        by="day", since=usage_text.parse_since("3d")))
    assert days[-2:] == [yesterday, today] and len(days) == 3
    assert tokens == [0, 11, 55] and costs == [0.0, 0.25, 0.5]


def test_damaged_or_missing_usage_adds_nothing_and_breaks_nothing(store: Store) -> None:
    conv = _chat(store)
    now = time.time()
    store.add_message(_reply(conv, now, Usage(prompt_tokens=7, completion_tokens=3)))
    store.add_message(_reply(conv, now, None, model=None))  # an import without usage
    # A request that failed before any reply: no usage, not a reply.
    store.add_message(_reply(conv, now, None, state=MessageState.ERROR))
    damaged = [_reply(conv, now, None) for _ in range(3)]
    for message in damaged:
        store.add_message(message)
    # Edited by hand: not JSON, a string where a number goes, a list.
    for message, text in zip(damaged, ('{"prompt_tokens": ', '{"prompt_tokens": "12"}',
                                       "[1, 2]"), strict=True):
        store._conn.execute("UPDATE messages SET usage = ? WHERE id = ?", (text, message.id))
    report = store.usage(by="model")
    assert [(line.key, line.replies, line.prompt_tokens, line.completion_tokens)
            for line in report.lines] == [("m", 4, 7, 3), ("(unknown)", 1, 0, 0)]
    assert report.total.cost is None and report.total.costed == 0
    assert usage_text.cost_note(report.total) == "cost: no provider reported one"


def test_one_conversation_counts_every_branch(store: Store) -> None:
    first, second = _chat(store), _chat(store)
    now = time.time()
    prompt = Message(role=Role.USER, content="q", conversation_id=first.id, created_at=now)
    store.add_message(prompt)
    for _version in range(2):  # two versions of the reply: both were paid for
        reply = _reply(first, now, Usage(prompt_tokens=5, completion_tokens=5, cost=0.1))
        reply.parent_id = prompt.id
        store.add_message(reply)
    store.add_message(_reply(second, now, Usage(prompt_tokens=100, completion_tokens=1)))
    total = store.usage(conversation_id=first.id).total
    assert (total.replies, total.tokens, total.cost) == (2, 20, 0.2)
    assert store.usage().total.tokens == 121


@pytest.mark.parametrize("text", ["7x", "", "d", "-3d", "0d", "2026-02-30", "soon"])
def test_a_bad_since_is_one_clear_error(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        usage_text.parse_since(text)
    assert "--since" in caught.value.message and "\n" not in caught.value.message


def test_since_reads_days_and_dates() -> None:
    now = dt.datetime(2026, 12, 2, 7, 30).timestamp()
    assert usage_text.parse_since("7d", now) == dt.datetime(2026, 11, 26).timestamp()
    assert usage_text.parse_since("1d", now) == dt.datetime(2026, 12, 2).timestamp()
    assert usage_text.parse_since("2026-11-01") == dt.datetime(2026, 11, 1).timestamp()


def test_one_conversations_total_is_its_usage_total(store: Store) -> None:
    # The status bar's query (its own index) gives what usage(conversation_id=) gives.
    conv, other = _chat(store), _chat(store)
    now = time.time()
    for chat, usage, state in ((conv, Usage(prompt_tokens=10, completion_tokens=2, cost=0.5),
                                MessageState.COMPLETE),
                               (conv, Usage(prompt_tokens=7), MessageState.ERROR),
                               (conv, None, MessageState.ERROR),
                               (conv, None, MessageState.COMPLETE),
                               (other, Usage(prompt_tokens=99, cost=9.0),
                                MessageState.COMPLETE)):
        store.add_message(_reply(chat, now, usage, state=state))
    total = store.conversation_total(conv.id)
    assert total == store.usage(by="provider", conversation_id=conv.id).total
    assert (total.replies, total.tokens, total.cost, total.costed) == (3, 19, 0.5, 1)
    plan = " ".join(str(row) for row in store._conn.execute(
        "EXPLAIN QUERY PLAN SELECT count(*) FROM messages WHERE conversation_id = ? "
        "AND +role = 'assistant'", (conv.id,)))
    assert "messages_usage" not in plan
