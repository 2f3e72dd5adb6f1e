"""Upgrading a real version-2 database (written by the build before trees) to version 3.

tests/fixtures/store-v2.db was made by tests/fixtures/make_v2_store.py running the
version-2 build's own CLI against the loopback server; see that script for what it holds.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from test_store_tree import read_only_mount

from chatterm.errors import StoreError
from chatterm.store import Store, schema, trees
from chatterm.store.schema import MIGRATIONS, Migration

FIXTURE = Path(__file__).parent / "fixtures" / "store-v2.db"
# Every column a version-2 database has, in its order.
MESSAGE_COLUMNS = ("seq", "id", "conversation_id", "position", "parent_id", "role", "state",
                   "created_at", "provider", "model", "finish_reason", "tool_call_id",
                   "writer", "error", "usage", "tool_calls", "refusal", "reasoning", "content")
CONVERSATION_COLUMNS = ("id", "title", "created_at", "updated_at", "provider", "model",
                        "message_count", "params", "system_prompt")


def copy_of_fixture(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "chatterm.db"
    shutil.copyfile(FIXTURE, path)
    path.chmod(0o600)
    return path


def read(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    try:
        return {
            "conversations": conn.execute(
                f"SELECT {', '.join(CONVERSATION_COLUMNS)} FROM conversations ORDER BY id"
            ).fetchall(),
            "messages": conn.execute(
                f"SELECT {', '.join(MESSAGE_COLUMNS)} FROM messages ORDER BY seq").fetchall(),
            "parts": conn.execute("SELECT * FROM message_parts ORDER BY seq, field, start"
                                  ).fetchall(),
            "version": [conn.execute("PRAGMA user_version").fetchone()],
        }
    finally:
        conn.close()


def dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def without_parents(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    index = MESSAGE_COLUMNS.index("parent_id")
    return [row[:index] + row[index + 1:] for row in rows]


def test_the_fixture_is_a_real_version_2_database() -> None:
    before = read(FIXTURE)
    assert before["version"] == [(2,)]
    assert len(before["conversations"]) == 4 and len(before["messages"]) == 20
    assert before["parts"], "the killed stream left appended parts"
    # The import wrote no parents: that conversation is not a chain yet.
    assert sum(row[4] is None for row in before["messages"]) > 4


def test_upgrading_keeps_every_message_id_field_and_order_and_chains_each_line(
        tmp_path: Path) -> None:
    path = copy_of_fixture(tmp_path)
    before = read(path)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        schema.migrate(conn, path)
        assert trees.has_trees(conn)
        ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
        conn.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")
        current = dict(conn.execute("SELECT id, current_id FROM conversations"))
    finally:
        conn.close()
    after = read(path)
    assert ok == "ok"
    assert after["version"] == [(schema.latest_version(MIGRATIONS),)]
    assert after["conversations"] == before["conversations"]
    assert after["parts"] == before["parts"]
    assert without_parents(after["messages"]) == without_parents(before["messages"])
    # Each conversation is one straight line: every message answers the one before it,
    # and its last message is the current leaf.
    lines: dict[str, list[tuple[Any, ...]]] = {}
    for row in sorted(after["messages"], key=lambda r: (r[2], r[3])):
        lines.setdefault(row[2], []).append(row)
    assert set(lines) == set(current)
    for conversation_id, line in lines.items():
        assert [row[4] for row in line] == [None, *[row[1] for row in line[:-1]]]
        assert current[conversation_id] == line[-1][1]
    assert path.with_name("chatterm.db.bak-v2").is_file()
    assert dump(path.with_name("chatterm.db.bak-v2")) == dump(FIXTURE)


def test_the_upgraded_store_shows_every_conversation_as_before(tmp_path: Path) -> None:
    path = copy_of_fixture(tmp_path)
    before = read(path)
    with Store.open(path) as store:
        summaries = store.list_conversations()
        assert len(summaries) == 4
        for summary in summaries:
            conv = store.get_conversation(summary.id)
            expected = [row for row in before["messages"] if row[2] == summary.id]
            assert [m.id for m in conv.messages] == [row[1] for row in expected]
            assert [m.content for m in conv.messages][:-1] == [row[-1] for row in
                                                              expected][:-1]
            assert conv.current_id == expected[-1][1]
            assert len(store.shape(summary.id)) == len(expected)
        assert store.search("brûlée")[0].title == "Say hello, with accents"
        # The killed reply is recovered as any start would: interrupted, text whole.
        killed = store.get_conversation(summaries[0].id).messages[-1]
        assert summaries[0].title == "Killed mid-reply"
        assert killed.state.value == "interrupted"
        assert killed.content == "streamed and saved "  # the row, then its part


def test_a_failing_upgrade_leaves_the_version_2_file_exactly_as_it_was(
        tmp_path: Path) -> None:
    path = copy_of_fixture(tmp_path)
    original = dump(path)

    def halfway(conn: sqlite3.Connection) -> None:
        trees.upgrade(conn)
        raise RuntimeError("power cut in the middle")

    with pytest.raises(StoreError, match="left as it was") as caught:
        Store.open(path, migrations=[*MIGRATIONS[:2], Migration(3, "trees", halfway)])
    assert "power cut" in str(caught.value)
    assert dump(path) == original
    assert read(path)["version"] == [(2,)]
    assert dump(path.with_name("chatterm.db.bak-v2")) == original
    with Store.open(path) as store:  # and the real upgrade still works after it
        assert len(store.list_conversations()) == 4


def test_a_version_2_file_on_a_read_only_mount_is_read_without_upgrading(
        tmp_path: Path) -> None:
    copy_of_fixture(tmp_path / "data")
    with read_only_mount(tmp_path / "data", tmp_path / "ro") as mounted, \
            Store.open(mounted / "chatterm.db", read_only=True) as store:
        summaries = store.list_conversations()
        assert len(summaries) == 4
        conv = store.get_conversation(summaries[-1].id)
        assert conv.messages[1].content == "Bonjour ! Crème brûlée, 日本語 🎉"
        assert conv.current_id == conv.messages[-1].id
        assert store.path_length(conv.id) == len(conv.messages) == 10
        killed = store.get_conversation(summaries[0].id).messages[-1]
        assert killed.state.value == "interrupted"  # shown as a start would leave it
        assert killed.content == "streamed and saved "  # the row, then its part
        assert store.search("brûlée")
    assert read(tmp_path / "data" / "chatterm.db")["version"] == [(2,)]
