"""The engine's tree operations (issue 12): versions, switching and flipping branches,
regenerate (with another model), edit, compare (concurrent streams), delete, fork and
scroll-back by id. HTTP runs against the loopback server; the store is the real SQLite
Store, read back through a second connection as a relaunch would. Most flows also run
without a store (`ask --no-save`), where the tree lives in the session alone.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from chatterm_env import write_config
from loopback import (
    Drop,
    Hold,
    LoopbackServer,
    json_reply,
    sse_chunks,
    sse_reply,
    stream_reply,
)

from chatterm.config import load_config
from chatterm.conversation import Conversation, Message, MessageState
from chatterm.engine.events import (
    BranchChanged,
    ReplyFailed,
    ReplyFinished,
    ReplyRestored,
    ReplyStarted,
    ReplyStopped,
    SessionEvent,
    TextArrived,
)
from chatterm.engine.session import ChatSession
from chatterm.errors import UsageError
from chatterm.store import Store


@pytest.fixture
def store(isolated_env: Path) -> Iterator[Store]:
    with Store.open() as opened:
        yield opened


@pytest.fixture(params=["saved", "unsaved"])
def maybe_store(request: pytest.FixtureRequest, isolated_env: Path) -> Iterator[Store | None]:
    """The real store, or none at all (the tree then lives in the session only)."""
    if request.param == "unsaved":
        yield None
        return
    with Store.open() as opened:
        yield opened


def _session(loopback: LoopbackServer, store: Store | None, extra: str = "") -> ChatSession:
    write_config(loopback.url, extra=extra)
    config = load_config()
    conversation = Conversation(provider=config.default_provider, model=config.default_model)
    return ChatSession(store, config, conversation)


def _reopen(session: ChatSession) -> ChatSession:
    """The conversation as a relaunch opens it: a new connection, a new session."""
    other = Store.open()
    conversation = other.get_conversation(session.conversation.id)
    return ChatSession(other, session.config, conversation)


def _texts(messages: list[Message]) -> list[str]:
    return [m.content for m in messages]


async def _poll(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def _two_versions(loopback: LoopbackServer, session: ChatSession) -> tuple[Message, ...]:
    """q -> A, then B (a regenerate, current) -> follow -> C."""
    loopback.script("chat/completions", [sse_reply(["A"]), sse_reply(["B"]),
                                         sse_reply(["C"])])
    first = await session.send("q")
    second = await session.regenerate()
    third = await session.send("follow")
    return first, second, third


async def test_a_flip_is_saved_and_a_reopened_session_shows_the_same_branch(
    loopback: LoopbackServer, store: Store
) -> None:
    session = _session(loopback, store)
    a, b, c = await _two_versions(loopback, session)
    assert _texts(session.conversation.messages) == ["q", "B", "follow", "C"]
    assert session.versions(b.id) == (2, 2) and session.versions(c.id) == (1, 1)
    changed = await session.flip(b.id, -1)
    # Only what is below the prompt changed: the prompt stays, A replaces B's branch.
    assert (changed.keep, _texts(changed.messages), changed.current_id) == (1, ["A"], a.id)
    assert _texts(session.conversation.messages) == ["q", "A"]
    reopened = _reopen(session)
    try:
        assert _texts(reopened.conversation.messages) == ["q", "A"]
        assert reopened.versions(a.id) == (1, 2)
        # The next version shows B's most recently active branch, down to C.
        back = await reopened.flip(a.id, +1)
        assert (back.keep, _texts(back.messages)) == (1, ["B", "follow", "C"])
        with pytest.raises(UsageError, match="last version"):
            await reopened.flip(b.id, +1)
    finally:
        assert reopened.store is not None
        reopened.store.close()
    with Store.open() as other:
        assert other.get_conversation(session.conversation.id).current_id == c.id


async def test_switching_branches_works_without_a_store(loopback: LoopbackServer,
                                                       isolated_env: Path) -> None:
    session = _session(loopback, None)
    a, b, c = await _two_versions(loopback, session)
    changed = await session.switch_branch(a.id)
    assert (changed.keep, _texts(changed.messages)) == (1, ["A"])
    changed = await session.switch_branch(b.id)
    assert _texts(session.conversation.messages) == ["q", "B", "follow", "C"]
    assert changed.current_id == c.id == session.conversation.current_id
    # The next request carries the branch shown.
    loopback.script("chat/completions", sse_reply(["D"]))
    await session.send("more")
    assert [m["content"] for m in loopback.requests[-1].json["messages"]] == [
        "q", "B", "follow", "C", "more"]


async def test_retry_and_regenerate_add_a_version_and_keep_the_old_one(
    loopback: LoopbackServer, maybe_store: Store | None
) -> None:
    session = _session(loopback, maybe_store)
    loopback.script("chat/completions", [sse_reply(["first"]), sse_reply(["second"])])
    old = await session.send("q")
    new = await session.retry()
    assert new.id != old.id and new.parent_id == old.parent_id
    assert session.versions(new.id) == (2, 2)
    assert session.conversation.messages[-1] is new
    # Both versions went with the same history.
    assert loopback.requests[0].json["messages"] == loopback.requests[1].json["messages"]
    if maybe_store is not None:
        with Store.open() as other:
            tree = other.get_tree(session.conversation.id)
            assert sorted(_texts(tree.messages)) == ["first", "q", "second"]
            assert other.get_conversation(session.conversation.id).current_id == new.id


async def test_regenerate_with_another_model_records_it_on_the_new_version(
    loopback: LoopbackServer, store: Store
) -> None:
    extra = f'[providers.other]\nbase_url = "{loopback.url}"\nkind = "openai"\n'
    session = _session(loopback, store, extra)
    loopback.script("chat/completions", [sse_reply(["one"]), sse_reply(["two"]),
                                         sse_reply(["three"])])
    old = await session.send("q")
    new = await session.regenerate(old.id, model="other-model")
    assert (new.provider, new.model) == ("test", "other-model")
    assert loopback.requests[1].json["model"] == "other-model"
    third = await session.regenerate(provider="other", model="third-model")
    assert (third.provider, third.model) == ("other", "third-model")
    # The chat's own model is unchanged; every version keeps the label of its writer.
    assert session.conversation.model == "test-model"
    with Store.open() as other:
        saved = {m.id: m.model for m in other.get_tree(session.conversation.id).messages}
    assert (saved[old.id], saved[new.id], saved[third.id]) == (
        "test-model", "other-model", "third-model")


async def test_regenerating_a_reply_in_the_middle_cuts_and_gives_back_what_is_below(
    loopback: LoopbackServer, store: Store
) -> None:
    session = _session(loopback, store)
    loopback.script("chat/completions", [sse_reply(["A"]), sse_reply(["C"])])
    a = await session.send("q")
    await session.send("follow")
    before = _texts(session.conversation.messages)
    hold = threading.Event()
    # Stopped before any text arrived (text that arrived would stay, as a version).
    loopback.script("chat/completions",
                    stream_reply([Hold(hold), *sse_chunks(["part", "never"])]))
    seen: list[SessionEvent] = []
    task = asyncio.create_task(session.regenerate(a.id, seen.append))
    try:
        await _poll(lambda: len(loopback.requests) == 3
                    and any(isinstance(e, ReplyStarted) for e in seen))
        cut = seen[0]
        assert isinstance(cut, BranchChanged) and (cut.keep, cut.messages) == (2, [])
        started = next(e for e in seen if isinstance(e, ReplyStarted))
        assert started.replaces is not None and started.replaces.id == a.id
        # The attempt went with the history up to the prompt only.
        assert [m["content"] for m in loopback.requests[-1].json["messages"]] == ["q"]
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        hold.set()
    restored = [e for e in seen if isinstance(e, ReplyRestored)]
    assert len(restored) == 1 and restored[0].message.id == a.id
    back = seen[-1]
    assert isinstance(back, BranchChanged)
    assert (back.keep, _texts(back.messages)) == (2, ["follow", "C"])
    assert _texts(session.conversation.messages) == before
    with Store.open() as other:
        tree = other.get_tree(session.conversation.id)
        assert sorted(_texts(tree.messages)) == sorted(before)  # the attempt is gone
        assert tree.current_id == session.conversation.current_id


async def test_edit_makes_a_new_branch_and_keeps_the_old_one(
    loopback: LoopbackServer, maybe_store: Store | None
) -> None:
    session = _session(loopback, maybe_store)
    loopback.script("chat/completions", [sse_reply(["a1"]), sse_reply(["a2"]),
                                         sse_reply(["b1"])])
    first = await session.send("q1")
    await session.send("q2")
    q1 = session.conversation.messages[0]
    turn = session.new_edit(q1.id, "q1, better")
    seen: list[SessionEvent] = []
    reply = await session.edit(turn, seen.append)
    changed = next(e for e in seen if isinstance(e, BranchChanged))
    assert (changed.keep, [m.id for m in changed.messages]) == (0, [turn.user.id, reply.id])
    assert reply.content == "b1"
    assert loopback.requests[-1].json["messages"] == [
        {"role": "user", "content": "q1, better"}]
    assert _texts(session.conversation.messages) == ["q1, better", "b1"]
    assert session.versions(turn.user.id) == (2, 2)
    # The old prompt and all that followed it are one flip away.
    back = await session.flip(turn.user.id, -1)
    assert _texts(back.messages) == ["q1", "a1", "q2", "a2"]
    assert back.messages[1].id == first.id
    with pytest.raises(UsageError, match="only a prompt"):
        session.new_edit(first.id, "x")


async def test_compare_streams_every_model_at_once(loopback: LoopbackServer,
                                                  store: Store) -> None:
    session = _session(loopback, store)
    slow = threading.Event()
    # Replies go to requests in the order they arrive: one is held after its first
    # chunk, the other streams to the end meanwhile.
    loopback.script("chat/completions", [sse_reply(["slow ", "end"], hold=slow),
                                         sse_reply(["fast"])])
    turn = session.new_compare("q", [("test", "m-a"), ("test", "m-b")])
    seen: list[SessionEvent] = []
    task = asyncio.create_task(session.compare(turn, seen.append))
    try:
        await _poll(lambda: any(isinstance(e, ReplyFinished) for e in seen))
        finished = next(e for e in seen if isinstance(e, ReplyFinished))
        other = next(r for r in turn.replies if r.id != finished.message.id)
        # The other reply had started streaming and is still under way: concurrent.
        assert any(isinstance(e, TextArrived) and e.message_id == other.id for e in seen)
        assert not task.done()
        assert finished.message.content == "fast"
    finally:
        slow.set()
    replies = await task
    assert [r.model for r in replies] == ["m-a", "m-b"]
    assert {r.content for r in replies} == {"fast", "slow end"}
    assert sorted(r.json["model"] for r in loopback.requests) == ["m-a", "m-b"]
    assert all(r.json["messages"] == [{"role": "user", "content": "q"}]
               for r in loopback.requests)
    assert session.versions(replies[1].id) == (2, 2)
    with Store.open() as other_store:
        saved = other_store.get_conversation(session.conversation.id)
    # The first model's reply is the current branch.
    assert saved.current_id == replies[0].id
    kept = await session.keep(replies[1].id)
    assert (kept.keep, [m.id for m in kept.messages]) == (1, [replies[1].id])
    with Store.open() as other_store:
        assert other_store.get_conversation(session.conversation.id).current_id == \
            replies[1].id


async def test_cancelling_a_compare_stops_every_stream_and_keeps_each(
    loopback: LoopbackServer, store: Store
) -> None:
    session = _session(loopback, store)
    hold = threading.Event()
    loopback.script("chat/completions", [sse_reply(["hello"]),
                                         sse_reply(["one ", "never"], hold=hold),
                                         sse_reply(["two ", "never"], hold=hold)])
    await session.send("hi")  # a compare in a chat already saved
    turn = session.new_compare("q", [("test", "m-a"), ("test", "m-b")])
    seen: list[SessionEvent] = []
    task = asyncio.create_task(session.compare(turn, seen.append))
    try:
        await _poll(lambda: {e.message_id for e in seen if isinstance(e, TextArrived)}
                    == {r.id for r in turn.replies})

        def saved_so_far() -> set[tuple[str, MessageState]]:
            with Store.open() as other:
                tree = other.get_tree(session.conversation.id).messages
            return {(m.content, m.state) for m in tree if m.id in {r.id for r in turn.replies}}

        # Each stream saves what it has (at least every 0.5 s) while both are under way.
        await _poll(lambda: saved_so_far() == {("one ", MessageState.STREAMING),
                                               ("two ", MessageState.STREAMING)})
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        hold.set()
    stopped = {e.message.id for e in seen if isinstance(e, ReplyStopped)}
    assert stopped == {r.id for r in turn.replies}
    assert not session.streaming
    with Store.open() as other:
        tree = other.get_tree(session.conversation.id)
    saved = {m.id: (m.content, m.state) for m in tree.messages}
    assert {saved[r.id] for r in turn.replies} == {
        ("one ", MessageState.INTERRUPTED), ("two ", MessageState.INTERRUPTED)}
    assert tree.current_id == turn.replies[0].id
    assert all(r.json["messages"][:2] == [{"role": "user", "content": "hi"},
                                          {"role": "assistant", "content": "hello"}]
               for r in loopback.requests[1:])


async def test_one_failing_model_does_not_stop_the_others(
    loopback: LoopbackServer, maybe_store: Store | None
) -> None:
    session = _session(loopback, maybe_store)
    loopback.script("chat/completions", [
        json_reply({"error": {"message": "no such model"}}, status=400),
        stream_reply([sse_chunks(["cut "], done=False, finish_reason=None)[0], Drop()]),
        sse_reply(["fine"]),
    ])
    turn = session.new_compare("q", [("test", "m-a"), ("test", "m-b"), ("test", "m-c")])
    seen: list[SessionEvent] = []
    replies = await session.compare(turn, seen.append)
    states = sorted(str(r.state) for r in replies)
    assert states == ["complete", "error", "interrupted"]
    assert len([e for e in seen if isinstance(e, ReplyFailed)]) == 2
    assert session.conversation.messages[-1] is replies[0]


def test_a_compare_needs_two_different_models(loopback: LoopbackServer,
                                             isolated_env: Path) -> None:
    session = _session(loopback, None)
    with pytest.raises(UsageError, match="at least two"):
        session.new_compare("q", [("test", "m-a")])
    with pytest.raises(UsageError, match="twice"):
        session.new_compare("q", [("test", "m-a"), ("test", "m-a")])


async def test_deleting_moves_the_current_branch_to_a_sibling_then_the_parent(
    loopback: LoopbackServer, maybe_store: Store | None
) -> None:
    session = _session(loopback, maybe_store)
    a, b, c = await _two_versions(loopback, session)
    q = session.conversation.messages[0]
    changed = await session.delete_message(b.id)
    assert (changed.keep, _texts(changed.messages), changed.current_id) == (1, ["A"], a.id)
    assert a.id in session.shape and b.id not in session.shape and c.id not in session.shape
    changed = await session.delete_message(a.id)
    assert (changed.keep, changed.messages, changed.current_id) == (1, [], q.id)
    assert _texts(session.conversation.messages) == ["q"]
    changed = await session.delete_message(q.id)
    assert (changed.keep, changed.messages, changed.current_id) == (0, [], None)
    assert session.conversation.messages == [] and len(session.shape) == 0
    if maybe_store is not None:
        with Store.open() as other:
            assert other.get_tree(session.conversation.id).messages == []


async def test_deleting_another_branch_leaves_the_current_one(
    loopback: LoopbackServer, maybe_store: Store | None
) -> None:
    session = _session(loopback, maybe_store)
    a, b, c = await _two_versions(loopback, session)
    changed = await session.delete_message(a.id)
    assert (changed.keep, changed.messages, changed.current_id) == (4, [], c.id)
    assert _texts(session.conversation.messages) == ["q", "B", "follow", "C"]
    assert session.versions(b.id) == (1, 1)


async def test_fork_copies_the_current_branch_up_to_a_message(
    loopback: LoopbackServer, store: Store
) -> None:
    session = _session(loopback, store)
    _a, b, _c = await _two_versions(loopback, session)
    forked = await session.fork(b.id, title="forked")
    assert forked.id != session.conversation.id and forked.title == "forked"
    with Store.open() as other:
        saved = other.get_conversation(forked.id)
    assert _texts(saved.messages) == ["q", "B"]
    assert not {m.id for m in saved.messages} & {m.id for m in session.conversation.messages}


async def test_older_messages_pages_the_current_branch_by_id(
    loopback: LoopbackServer, maybe_store: Store | None
) -> None:
    session = _session(loopback, maybe_store)
    loopback.script("chat/completions", [sse_reply(["r0"]), sse_reply(["r0, again"]),
                                         *[sse_reply([f"r{i}"]) for i in (1, 2)]])
    await session.send("p0")
    await session.retry()  # "r0" stays saved, as another version, between p0 and p1
    for i in (1, 2):
        await session.send(f"p{i}")
    messages = session.conversation.messages
    assert _texts(messages) == ["p0", "r0, again", "p1", "r1", "p2", "r2"]
    assert _texts(session.older_messages(messages[4].id, 3)) == ["r0, again", "p1", "r1"]
    assert _texts(session.older_messages(messages[1].id, 10)) == ["p0"]
    assert session.older_messages(messages[0].id, 10) == []


async def test_the_session_s_shape_matches_the_store_after_every_operation(
    loopback: LoopbackServer, store: Store
) -> None:
    session = _session(loopback, store)
    _a, b, _c = await _two_versions(loopback, session)
    turn = session.new_edit(session.conversation.messages[0].id, "q again")
    loopback.script("chat/completions", sse_reply(["E"]))
    await session.edit(turn)
    await session.delete_message(b.id)

    def parents(shape: object) -> dict[str, str | None]:
        return {mid: node.parent_id for mid, node in shape.nodes.items()}  # type: ignore[attr-defined]

    with Store.open() as other:
        assert parents(session.shape) == parents(other.shape(session.conversation.id))
        assert other.get_conversation(session.conversation.id).current_id == \
            session.conversation.current_id


async def test_continue_and_retry_work_on_the_branch_flipped_to(
    loopback: LoopbackServer, maybe_store: Store | None
) -> None:
    session = _session(loopback, maybe_store)
    loopback.script("chat/completions", [
        stream_reply([sse_chunks(["cut "], done=False, finish_reason=None)[0], Drop()]),
        sse_reply(["whole"]),
        sse_reply(["and the rest"]),
        sse_reply(["third"]),
    ])
    cut = await session.send("q")
    assert cut.state is MessageState.INTERRUPTED
    whole = await session.retry()  # a partial reply is kept as a version
    await session.flip(whole.id, -1)
    continued = await session.continue_reply()
    assert continued.id == cut.id and continued.content == "cut and the rest"
    sent = [m["content"] for m in loopback.requests[2].json["messages"]]
    assert sent[:2] == ["q", "cut "]
    third = await session.retry()
    assert third.parent_id == cut.parent_id and session.versions(third.id) == (3, 3)
    assert whole.content == "whole"
    if maybe_store is not None:
        with Store.open() as other:
            saved = {m.id: m.content for m in other.get_tree(session.conversation.id).messages}
        assert (saved[cut.id], saved[whole.id], saved[third.id]) == (
            "cut and the rest", "whole", "third")


async def test_quick_changes_of_branch_land_one_after_the_other(
    loopback: LoopbackServer, maybe_store: Store | None
) -> None:
    session = _session(loopback, maybe_store)
    a, b, c = await _two_versions(loopback, session)
    # Two flips at once (two quick key presses): each sees the path the other left.
    first, second = await asyncio.gather(session.switch_branch(a.id),
                                         session.switch_branch(b.id))
    assert (first.keep, _texts(first.messages)) == (1, ["A"])
    assert (second.keep, _texts(second.messages)) == (1, ["B", "follow", "C"])
    assert _texts(session.conversation.messages) == ["q", "B", "follow", "C"]
    assert session.conversation.current_id == c.id


async def test_regenerating_a_reply_on_another_branch_shows_that_branch_first(
    loopback: LoopbackServer, maybe_store: Store | None
) -> None:
    session = _session(loopback, maybe_store)
    a, _b, _c = await _two_versions(loopback, session)
    loopback.script("chat/completions", sse_reply(["A2"]))
    seen: list[SessionEvent] = []
    new = await session.regenerate(a.id, seen.append)
    switched = seen[0]
    assert isinstance(switched, BranchChanged) and _texts(switched.messages) == ["A"]
    assert session.versions(new.id) == (3, 3)
    assert _texts(session.conversation.messages) == ["q", "A2"]
    assert [m["content"] for m in loopback.requests[-1].json["messages"]] == ["q"]


async def test_a_saved_chat_left_empty_takes_new_messages(loopback: LoopbackServer,
                                                          store: Store) -> None:
    """Every message deleted (or a chat imported empty): the next prompt goes into the
    same saved chat, as a relaunch (`ask -c`, a new session) sends it."""
    session = _session(loopback, store)
    loopback.script("chat/completions", [sse_reply(["gone"]), sse_reply(["back"])])
    await session.send("first")
    await session.delete_message(session.conversation.messages[0].id)
    again = ChatSession(store, session.config, store.get_conversation(session.conversation.id))
    reply = await again.send("again")
    assert reply.state is MessageState.COMPLETE
    with Store.open() as other:
        saved = other.get_conversation(session.conversation.id)
    assert _texts(saved.messages) == ["again", "back"] and saved.current_id == reply.id


async def test_a_compare_stopped_before_every_stream_began_leaves_none_streaming(
    loopback: LoopbackServer, store: Store
) -> None:
    session = _session(loopback, store)
    loopback.always("chat/completions", sse_reply(["never read"]))
    turn = session.new_compare("q", [("test", "m-a"), ("test", "m-b"), ("test", "m-c")])
    seen: list[SessionEvent] = []

    def stop_at_once(event: SessionEvent) -> None:
        seen.append(event)
        if isinstance(event, ReplyStarted):
            task.cancel()  # Esc as the first reply starts: the others never began

    task = asyncio.create_task(session.compare(turn, stop_at_once))
    with pytest.raises(asyncio.CancelledError):
        await task
    assert {r.state for r in turn.replies} == {MessageState.INTERRUPTED}
    assert {e.message.id for e in seen if isinstance(e, ReplyStopped)} == {
        r.id for r in turn.replies}
    with Store.open() as other:
        saved = {m.id: m.state for m in other.get_tree(session.conversation.id).messages}
    assert {saved[r.id] for r in turn.replies} == {MessageState.INTERRUPTED}


class _HeldAdds(Store):
    """A real Store whose next add_messages (or create) waits until the test lets it go."""

    hold = False
    entered: threading.Event
    release: threading.Event

    def _wait(self) -> None:
        if self.hold:
            self.hold = False
            self.entered.set()
            self.release.wait(timeout=10)

    def add_messages(self, messages, *, current_id=None):  # type: ignore[no-untyped-def]
        self._wait()
        return super().add_messages(messages, current_id=current_id)

    def create_conversation(self, conv: Conversation) -> None:
        self._wait()
        super().create_conversation(conv)


@pytest.mark.parametrize("chat", ["new", "saved"])
async def test_a_prompt_stopped_while_its_save_waits_is_not_saved_after_all(
    loopback: LoopbackServer, isolated_env: Path, chat: str
) -> None:
    """Esc while the prompt's write waits (a lock held by another chatterm): the app
    says it was stopped before the request was sent, so once the write lands it is
    taken back; the store holds the chat as shown, its current branch unchanged."""
    held = _HeldAdds.open()
    assert isinstance(held, _HeldAdds)
    held.entered, held.release = threading.Event(), threading.Event()
    try:
        session = _session(loopback, held)
        if chat == "saved":
            loopback.script("chat/completions", sse_reply(["first"]))
            await session.send("one")
        shown = [m.id for m in session.conversation.messages]
        held.hold = True
        task = asyncio.create_task(session.send("stopped"))
        await asyncio.to_thread(held.entered.wait, 10)
        task.cancel()
        held.release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        await session.flush()
        assert [m.id for m in session.conversation.messages] == shown
        assert len(loopback.requests) == len(shown) // 2  # nothing was sent for it
        with Store.open() as other:
            if chat == "new":
                assert other.list_conversations() == []
            else:
                tree = other.get_tree(session.conversation.id)
                assert [m.id for m in tree.messages] == shown
                assert tree.current_id == shown[-1]
    finally:
        held.close()


async def test_a_regenerate_cut_off_after_some_text_stays_as_an_interrupted_version(
    loopback: LoopbackServer, maybe_store: Store | None
) -> None:
    session = _session(loopback, maybe_store)
    loopback.script("chat/completions", [
        sse_reply(["first answer"]),
        stream_reply([sse_chunks(["partial "], done=False, finish_reason=None)[0], Drop()]),
    ])
    first = await session.send("q")
    events: list[SessionEvent] = []
    returned = await session.regenerate(first.id, events.append)
    # What arrived is not thrown away: it is a version of its own, current, interrupted.
    assert not any(isinstance(event, ReplyRestored) for event in events)
    new = session.conversation.messages[-1]
    assert returned is new and new.id != first.id and new.content == "partial "
    assert new.state is MessageState.INTERRUPTED
    assert session.versions(new.id) == (2, 2)
    if maybe_store is not None:
        reopened = _reopen(session)
        assert _texts(reopened.conversation.messages) == ["q", "partial "]
        assert _texts(reopened.store.get_tree(session.conversation.id).messages) == [
            "q", "first answer", "partial "]


async def test_continue_carries_a_reply_on_with_the_model_that_wrote_it(
    loopback: LoopbackServer, maybe_store: Store | None
) -> None:
    session = _session(loopback, maybe_store)
    loopback.script("chat/completions", [
        stream_reply([sse_chunks(["cut "], done=False, finish_reason=None)[0], Drop()]),
        sse_reply(["and the rest"]),
    ])
    cut = await session.send("q")
    writer = cut.model
    session.set_model(session.conversation.provider, "another-model")
    continued = await session.continue_reply()
    assert continued.content == "cut and the rest"
    assert continued.model == writer  # never relabelled as the chat's new model
    assert loopback.requests[1].json["model"] == writer


async def test_continue_refuses_a_complete_reply_without_a_finish_reason(
    loopback: LoopbackServer, maybe_store: Store | None
) -> None:
    session = _session(loopback, maybe_store)
    loopback.script("chat/completions", [
        sse_reply(["done"], finish_reason=None)])
    reply = await session.send("q")
    assert reply.state is MessageState.COMPLETE and reply.finish_reason is None
    with pytest.raises(UsageError, match="complete"):
        await session.continue_reply()
    assert len(loopback.requests) == 1
