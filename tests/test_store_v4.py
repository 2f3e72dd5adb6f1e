"""Schema version 4: tool calls are searchable (chatterm/store/calls.py), tested on a real
version-3 database written by the round-start build (tests/fixtures/make_v3_store.py
says how it was made and what it holds), and on a new store holding a tool exchange."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from test_store_tree import read_only_mount
from tool_exchange import CALL_TOKYO, tool_exchange

from chatterm.conversation import HIT_END, HIT_START, Message, MessageState, Role, ToolCall
from chatterm.errors import StoreError
from chatterm.store import Store, calls, schema
from chatterm.store.schema import MIGRATIONS, Migration

FIXTURE = Path(__file__).parent / "fixtures" / "store-v3.db"
V3_COLUMNS = ("seq", "id", "conversation_id", "position", "parent_id", "role", "state",
              "created_at", "provider", "model", "finish_reason", "tool_call_id", "writer",
              "error", "usage", "tool_calls", "refusal", "reasoning", "content")


def copy_of_fixture(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "chatterm.db"
    shutil.copyfile(FIXTURE, path)
    path.chmod(0o600)
    return path


def rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def index_is_sound(store: Store) -> None:
    """FTS5's own check, against the messages table too (rank 1): an external-content
    delete given other text than was indexed fails it."""
    with store.raw_connection() as conn:
        conn.execute("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)")


def found(store: Store, query: str) -> list[tuple[str, Role, str]]:
    return [(hit.message_id, hit.role, hit.snippet.replace(HIT_START, "[")
             .replace(HIT_END, "]")) for hit in store.search(query)]


def test_the_fixture_is_a_real_version_3_database_holding_tool_calls() -> None:
    assert rows(FIXTURE, "PRAGMA user_version") == [(3,)]
    assert rows(FIXTURE, "SELECT count(*) FROM messages") == [(16,)]
    assert rows(FIXTURE, "SELECT count(*) FROM messages WHERE tool_calls IS NOT NULL") == [(2,)]
    assert rows(FIXTURE, "SELECT count(*) FROM messages WHERE role = 'tool'") == [(2,)]
    assert rows(FIXTURE, "SELECT count(*) FROM message_parts") == [(1,)]
    assert "calls" not in {row[1] for row in rows(FIXTURE, "PRAGMA table_info(messages)")}


def test_upgrading_keeps_every_row_and_makes_the_calls_searchable(tmp_path: Path) -> None:
    path = copy_of_fixture(tmp_path)
    before = rows(path, f"SELECT {', '.join(V3_COLUMNS)} FROM messages ORDER BY seq")
    conversations = rows(path, "SELECT * FROM conversations ORDER BY id")
    with Store.open(path) as store:
        index_is_sound(store)
        with store.raw_connection() as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == \
                schema.latest_version(MIGRATIONS)
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        lima = found(store, "America/Lima")
        assert [(role, snippet) for _, role, snippet in lima] == [
            (Role.ASSISTANT,
             'wiki_lookup {"page": "Numbat"}\nget_current_time {"timezone": "[America/Lima]"}')]
        assert [role for _, role, _ in found(store, "get_current_time")] == [Role.ASSISTANT] * 2
        # The prompt, and the argument of a call that streamed in pieces.
        assert sorted(role for _, role, _ in found(store, "quokka")) == [Role.ASSISTANT,
                                                                         Role.USER]
        assert [role for _, role, _ in found(store, "termites")] == [Role.TOOL, Role.ASSISTANT]
        assert store.search("brûlée")[0].title == "Say hello, with accents"
        # Searching for the JSON's own keys finds nothing: only names and values count.
        assert found(store, "arguments") == []
        # The killed reply is recovered as any start would, and only then indexed.
        assert [role for _, role, _ in found(store, "streamed")] == [Role.ASSISTANT]
    after = rows(path, f"SELECT {', '.join(V3_COLUMNS)} FROM messages ORDER BY seq")
    # Every version-3 field is as it was, but the killed reply's recovery (as any start).
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == 1 and changed[0][0][6] == "streaming"
    # Later versions add columns (schema 5: role); the version-3 ones are as they were.
    assert [row[:len(conversations[0])] for row in rows(
        path, "SELECT * FROM conversations ORDER BY id")] == conversations
    assert dump(path.with_name("chatterm.db.bak-v3")) == dump(FIXTURE)


def test_deleting_and_editing_tool_calls_keeps_the_index_true(tmp_path: Path) -> None:
    path = copy_of_fixture(tmp_path)
    with Store.open(path) as store:
        [(reply_id, _, _)] = found(store, "America/Lima")
        conversation_id = store.search("America/Lima")[0].conversation_id
        reply = next(m for m in store.get_conversation(conversation_id).messages
                     if m.id == reply_id)
        # Edited arguments replace the model's in the saved reply (the tool loop does so).
        reply.tool_calls[1] = ToolCall(reply.tool_calls[1].id, "get_current_time",
                                       '{"timezone": "Pacific/Auckland"}')
        assert store.update_message(reply)
        index_is_sound(store)
        assert found(store, "America/Lima") == []
        assert [mid for mid, _, _ in found(store, "Auckland")] == [reply_id]
        store.delete_conversation(conversation_id)
        index_is_sound(store)
        assert found(store, "Auckland") == [] and found(store, "termites") == []
        assert found(store, "quokka")  # the other conversation's call is still found


def test_a_failing_upgrade_leaves_the_version_3_file_exactly_as_it_was(tmp_path: Path) -> None:
    path = copy_of_fixture(tmp_path)
    original = dump(path)

    def halfway(conn: sqlite3.Connection) -> None:
        calls.upgrade(conn)
        raise RuntimeError("power cut in the middle")

    with pytest.raises(StoreError, match="left as it was") as caught:
        Store.open(path, migrations=[*MIGRATIONS[:3], Migration(4, "calls", halfway)])
    assert "power cut" in str(caught.value)
    assert dump(path) == original
    with Store.open(path) as store:  # and the real upgrade still works after it
        assert found(store, "America/Lima")
        index_is_sound(store)


def test_a_version_3_file_on_a_read_only_mount_is_searched_without_upgrading(
        tmp_path: Path) -> None:
    copy_of_fixture(tmp_path / "data")
    with read_only_mount(tmp_path / "data", tmp_path / "ro") as mounted, \
            Store.open(mounted / "chatterm.db", read_only=True) as reader:
        with reader.raw_connection() as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
        # Results (message text) are found; calls need version 4.
        assert [role for _, role, _ in found(reader, "termites")] == [Role.TOOL,
                                                                      Role.ASSISTANT]
        assert found(reader, "America/Lima") == []


def test_a_new_store_finds_tool_calls_and_results_as_they_are_saved() -> None:
    conv = tool_exchange()
    call, tokyo = conv.messages[1], conv.messages[2]
    with Store.open() as store:
        index_is_sound(store)
        # The call's arguments and the result's text.
        assert sorted(mid for mid, _, _ in found(store, "Asia/Tokyo")) == sorted([tokyo.id,
                                                                                 call.id])
        # Arguments sent as \\u escapes are found as the words they spell.
        assert [mid for mid, _, _ in found(store, "été")] == [call.id]
        assert [mid for mid, _, _ in found(store, "wiki__lookup")] == [call.id]
        assert [mid for mid, _, _ in found(store, "quokkas clipboard")] == [conv.messages[4].id]
        assert found(store, CALL_TOKYO) == []  # ids are not words anyone searches for
        # A reply streamed with its calls is indexed once it ends, like its text.
        streaming = Message(role=Role.ASSISTANT, conversation_id=conv.id,
                            parent_id=conv.messages[-1].id, state=MessageState.STREAMING)
        store.add_message(streaming)
        streaming.tool_calls = [ToolCall("c1", "get_weather", '{"city": "Reykjavik"}')]
        store.update_message(streaming)
        assert found(store, "Reykjavik") == []
        streaming.state = MessageState.COMPLETE
        store.update_message(streaming)
        assert [mid for mid, _, _ in found(store, "Reykjavik")] == [streaming.id]
        index_is_sound(store)
        assert schema.latest_version(MIGRATIONS) >= 4


def test_doctor_s_copy_finds_tool_calls_too(isolated_env: Path) -> None:
    from chatterm import locations
    from chatterm.store import doctor

    conv = tool_exchange()
    source = locations.database_file()
    target = doctor.free_name(source)
    doctor.recover(source, target)
    with Store.open(target) as copy:
        index_is_sound(copy)
        assert [mid for mid, _, _ in found(copy, "Europe/Paris")] == [conv.messages[1].id]
