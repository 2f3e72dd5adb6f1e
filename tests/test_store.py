"""The store's everyday behaviour: conversations, messages, listing, ids, search, files."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatterm import locations
from chatterm.conversation import (
    HIT_END,
    HIT_START,
    Conversation,
    Message,
    MessageState,
    Params,
    Role,
    ToolCall,
    Usage,
)
from chatterm.errors import UsageError
from chatterm.store import Store


@pytest.fixture
def store() -> Iterator[Store]:
    opened = Store.open()
    try:
        yield opened
    finally:
        opened.close()


def make_conversation(store: Store, title: str = "chat", n: int = 0,
                      conversation_id: str | None = None) -> Conversation:
    conv = Conversation(provider="aimlapi", model="gpt-4o", title=title)
    if conversation_id:
        conv.id = conversation_id
    store.create_conversation(conv)
    parent: str | None = None
    for i in range(n):
        # Each message answers the one before it: a straight line.
        message = Message(role=Role.USER if i % 2 == 0 else Role.ASSISTANT,
                          content=f"message {i}", conversation_id=conv.id, parent_id=parent)
        store.add_message(message)
        parent = message.id
    return conv


def full_message(conv_id: str, parent_id: str | None = None) -> Message:
    return Message(
        role=Role.ASSISTANT, content="the answer", conversation_id=conv_id,
        parent_id=parent_id, state=MessageState.ERROR, provider="mistral", model="magistral",
        finish_reason="length", usage=Usage(prompt_tokens=3, completion_tokens=5,
                                            total_tokens=8, cost=0.0012,
                                            raw={"meta": {"usage": {"credits": 1}}}),
        reasoning="thinking hard", refusal="no", error="dropped",
        tool_calls=[ToolCall(id="call_1", name="lookup", arguments='{"q": 1}')],
        tool_call_id="t9",
    )


def test_default_location_and_private_permissions(store: Store) -> None:
    assert store.path == locations.database_file()
    assert stat.S_IMODE(locations.data_dir().stat().st_mode) == 0o700
    conv = make_conversation(store, n=1)  # a write makes SQLite create -wal and -shm
    assert conv.id
    for suffix in ("", "-wal", "-shm"):
        side = store.path.with_name(store.path.name + suffix)
        assert side.exists(), side
        assert stat.S_IMODE(side.stat().st_mode) == 0o600, side


def test_files_stay_private_under_a_permissive_umask(tmp_path: Path) -> None:
    old_umask = os.umask(0)
    try:
        path = tmp_path / "new-dir" / "c.db"
        with Store.open(path) as opened:
            conv = make_conversation(opened, n=1)
            streaming = Message(role=Role.ASSISTANT, conversation_id=conv.id,
                                state=MessageState.STREAMING)
            opened.add_message(streaming)  # creates this writer's lock file
            writers = path.with_name("c.db-writers")
            modes = {p.name: stat.S_IMODE(p.stat().st_mode)
                     for p in [path.parent, writers, *path.parent.iterdir(),
                               *writers.iterdir()]}
    finally:
        os.umask(old_umask)
    assert modes.pop("new-dir") == 0o700
    assert modes.pop("c.db-writers") == 0o700
    assert set(modes.values()) == {0o600}, modes
    assert {"c.db", "c.db-wal", "c.db-shm"} <= set(modes)


def test_existing_loose_permissions_are_tightened(tmp_path: Path) -> None:
    path = tmp_path / "loose.db"
    Store.open(path).close()
    path.chmod(0o644)
    with Store.open(path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_custom_path_does_not_chmod_an_existing_directory(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    Store.open(shared / "c.db").close()
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755


def test_pragmas(store: Store) -> None:
    with store.raw_connection() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
        assert conn.execute("PRAGMA user_version").fetchone()[0] >= 1


def test_message_round_trip_keeps_every_field(store: Store) -> None:
    conv = make_conversation(store)
    conv.system_prompt = "be brief"
    conv.params = Params(temperature=0.5, top_p=0.9, max_tokens=100, stop=["END"], seed=7,
                         safe_prompt=True)
    store.update_conversation(conv)
    message = full_message(conv.id)
    assert store.add_message(message) == 0
    loaded = store.get_conversation(conv.id)
    assert loaded.system_prompt == "be brief"
    assert loaded.params == conv.params
    assert loaded.messages == [message]


def test_positions_order_last_n_and_lazy_loading(store: Store) -> None:
    conv = make_conversation(store, n=10)
    assert store.count_messages(conv.id) == 10
    full = store.get_conversation(conv.id).messages
    assert [m.content for m in full] == [f"message {i}" for i in range(10)]
    assert [store.position_of(m.id) for m in full] == list(range(10))
    tail = store.get_conversation(conv.id, last_n=3).messages
    assert [m.content for m in tail] == ["message 7", "message 8", "message 9"]
    first_loaded = store.count_messages(conv.id) - len(tail)
    earlier = store.load_messages(conv.id, before_position=first_loaded, limit=4)
    assert [m.content for m in earlier] == [f"message {i}" for i in range(3, 7)]
    assert [m.content for m in store.load_messages(conv.id, 2, 50)] == ["message 0",
                                                                        "message 1"]
    assert store.load_messages(conv.id, 0, 50) == []
    assert len(store.load_messages(conv.id, None, 5)) == 5


def test_add_message_bumps_updated_at_and_listing_order(store: Store) -> None:
    old = make_conversation(store, "old")
    new = make_conversation(store, "new")
    store.add_message(Message(role=Role.USER, content="hi", conversation_id=old.id))
    listing = store.list_conversations()
    assert [s.title for s in listing] == ["old", "new"]
    assert listing[0].message_count == 1
    assert listing[0].updated_at >= old.updated_at
    assert store.last_conversation_id() == old.id
    assert [s.title for s in store.list_conversations(limit=1, offset=1)] == ["new"]
    assert store.list_conversations(limit=0) == []
    assert new.id in {s.id for s in store.list_conversations()}


def test_listing_uses_the_covering_index_only(store: Store) -> None:
    make_conversation(store, n=2)
    with store.raw_connection() as conn:
        plan = " ".join(str(row[-1]) for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT id, title, provider, model, created_at, updated_at, "
            "message_count FROM conversations ORDER BY updated_at DESC, id DESC"))
    assert "COVERING INDEX conversations_listing" in plan


def test_rename_update_delete_and_unknown_ids(store: Store) -> None:
    conv = make_conversation(store, "first", n=3)
    store.rename_conversation(conv.id, "renamed")
    assert store.get_conversation(conv.id).title == "renamed"
    conv.model = "other-model"
    conv.updated_at = 0  # a stale object must not move updated_at backwards
    before = store.list_conversations()[0].updated_at
    store.update_conversation(conv)
    assert store.get_conversation(conv.id).model == "other-model"
    assert store.list_conversations()[0].updated_at == before
    store.delete_conversation(conv.id)
    with store.raw_connection() as conn:
        assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 0
    assert store.search("message") == []
    for call in (lambda: store.get_conversation(conv.id),
                 lambda: store.delete_conversation(conv.id),
                 lambda: store.rename_conversation(conv.id, "x"),
                 lambda: store.count_messages(conv.id)):
        with pytest.raises(UsageError, match="no conversation matches"):
            call()
    with pytest.raises(UsageError):
        store.add_message(Message(role=Role.USER, conversation_id=conv.id))


def test_resolve_id(store: Store) -> None:
    make_conversation(store, conversation_id="abc111")
    make_conversation(store, conversation_id="abc222")
    make_conversation(store, conversation_id="abd333")
    assert store.resolve_id("abc111") == "abc111"
    assert store.resolve_id("abc2") == "abc222"
    assert store.resolve_id("ABD") == "abd333"
    with pytest.raises(UsageError, match="'abc' is ambiguous: matches abc111…, abc222…"):
        store.resolve_id("abc")
    with pytest.raises(UsageError, match="no conversation matches 'zz'"):
        store.resolve_id("zz")
    with pytest.raises(UsageError):
        store.resolve_id("  ")


def test_update_message_while_streaming(store: Store) -> None:
    conv = make_conversation(store)
    reply = Message(role=Role.ASSISTANT, conversation_id=conv.id,
                    state=MessageState.STREAMING)
    store.add_message(reply)
    for piece in ("Hel", "lo wor", "ld"):
        reply.content += piece
        assert store.update_message(reply)
    assert store.get_conversation(conv.id).messages[0].content == "Hello world"
    # Streaming text is not indexed yet...
    assert store.search("world") == []
    reply.state = MessageState.COMPLETE
    reply.finish_reason = "stop"
    reply.usage = Usage(total_tokens=4)
    store.update_message(reply)
    # ...and is once the reply has ended.
    hits = store.search("world")
    assert [h.message_id for h in hits] == [reply.id]
    saved = store.get_conversation(conv.id).messages[0]
    assert saved.state is MessageState.COMPLETE
    assert saved.usage == Usage(total_tokens=4)
    ghost = Message(role=Role.ASSISTANT, conversation_id=conv.id)
    assert store.update_message(ghost) is False


def test_search_snippets_ranking_prefix_and_escaping(store: Store) -> None:
    conv = make_conversation(store, "Rust talk")
    for text in ("The borrow checker keeps references honest.",
                 "Lifetimes and the borrow checker, again the borrow checker.",
                 "Nothing relevant here."):
        store.add_message(Message(role=Role.ASSISTANT, content=text, conversation_id=conv.id))
    reasoning = Message(role=Role.ASSISTANT, content="short", reasoning="a hidden zebra",
                        conversation_id=conv.id)
    store.add_message(reasoning)
    hits = store.search("borrow checker")
    assert len(hits) == 2
    assert hits[0].snippet.startswith("Lifetimes")  # bm25: more occurrences rank higher
    assert f"{HIT_START}borrow{HIT_END} {HIT_START}checker{HIT_END}" in hits[0].snippet
    assert hits[0].title == "Rust talk" and hits[0].role is Role.ASSISTANT
    assert hits[0].conversation_id == conv.id
    assert len(store.search("borr")) == 2  # the last word is a prefix
    assert store.search("borr ") == []  # ...unless the user ended it
    assert [h.message_id for h in store.search("zebra")] == [reasoning.id]
    assert len(store.search("borrow", limit=1)) == 1
    for hostile in ('"foo', "AND OR (", 'NEAR(a b)', "content:borrow", "*", '"', "-",
                    "borrow)", "' OR 1=1 --", "^borrow", "", "   "):
        store.search(hostile)  # never raises
    assert len(store.search("content:borrow")) == 0
    assert len(store.search('"borrow')) == 2


def test_search_diacritics_and_unicode(store: Store) -> None:
    conv = make_conversation(store)
    store.add_message(Message(role=Role.USER, content="Crème brûlée à Zürich",
                              conversation_id=conv.id))
    assert len(store.search("creme brulee")) == 1
    assert len(store.search("ZÜRICH")) == 1


def test_fts_index_stays_consistent(store: Store) -> None:
    conv = make_conversation(store, n=20)
    reply = Message(role=Role.ASSISTANT, content="x", conversation_id=conv.id)
    store.add_message(reply)
    reply.content = "edited text"
    store.update_message(reply)
    streamed = Message(role=Role.ASSISTANT, content="part", conversation_id=conv.id,
                       state=MessageState.STREAMING)
    store.add_message(streamed)
    streamed.content = "partial then finished"
    store.update_message(streamed)
    streamed.state = MessageState.INTERRUPTED
    store.update_message(streamed)
    store.delete_conversation(make_conversation(store, n=5).id)
    with store.raw_connection() as conn:
        # rank=1 also compares the index with the text in `messages`.
        conn.execute("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)")
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert len(store.search("edited")) == 1
    assert store.search("x") == []
    assert len(store.search("finished")) == 1


def test_remove_message_closes_the_gap_and_leaves_the_index_consistent(store: Store) -> None:
    conv = make_conversation(store, n=5)
    ids = [m.id for m in store.get_conversation(conv.id).messages]
    assert store.remove_message(ids[1]) is True
    assert store.remove_message(ids[1]) is False
    assert [m.id for m in store.get_conversation(conv.id).messages] == [ids[0], *ids[2:]]
    assert [store.position_of(i) for i in [ids[0], *ids[2:]]] == [0, 1, 2, 3]
    assert store.count_messages(conv.id) == 4
    assert sorted(hit.message_id for hit in store.search("message")) == sorted(
        [ids[0], *ids[2:]])
    # The next message goes after the last, with no hole and no clash.
    store.add_message(Message(role=Role.USER, content="later", conversation_id=conv.id))
    assert store.position_of(store.get_conversation(conv.id).messages[-1].id) == 4
    with store.raw_connection() as conn:
        conn.execute("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)")
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_import_refuses_existing_ids(store: Store) -> None:
    conv = make_conversation(store, n=2)
    copy = store.get_conversation(conv.id)
    with pytest.raises(UsageError, match="already exists"):
        store.import_conversation(copy)
    copy.id = "fresh"
    with pytest.raises(UsageError, match=r"a message with id .* already exists"):
        store.import_conversation(copy)
    with pytest.raises(UsageError, match="no conversation matches"):
        store.get_conversation("fresh")


def test_store_can_be_shared_between_threads(store: Store) -> None:
    conv = make_conversation(store)
    errors: list[BaseException] = []

    def writer(tag: str) -> None:
        try:
            for i in range(50):
                store.add_message(Message(role=Role.USER, content=f"{tag} {i}",
                                          conversation_id=conv.id))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.count_messages(conv.id) == 200
    # Each thread's messages are roots of their own (no parent given): the whole tree
    # holds all 200, each with its own position.
    positions = [store.position_of(m.id) for m in store.get_tree(conv.id).messages]
    assert positions == list(range(200))


def test_search_ranks_within_the_most_recent_matches(store: Store,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from chatterm.store import search as search_module

    monkeypatch.setattr(search_module, "SEARCH_WINDOW", 3)
    conv = make_conversation(store)
    ids = []
    for i in range(6):
        message = Message(role=Role.USER, content=f"apple {i}", conversation_id=conv.id)
        store.add_message(message)
        ids.append(message.id)
    assert {h.message_id for h in store.search("apple")} == set(ids[-3:])
    assert len(store.search("apple", limit=2)) == 2
