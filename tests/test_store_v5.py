"""Schema version 5: attachments stored once and collected, a conversation's role, usage
as numbers; the upgrade of a real version-4 file (tests/fixtures/store-v4.db, made by the
round-start build: see make_v4_store.py)."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from chatterm.attachments import Attachment, PendingAttachment
from chatterm.conversation import Conversation, Message, MessageState, Role, Usage
from chatterm.errors import StoreError
from chatterm.store import Store
from chatterm.store.schema import MIGRATIONS
from chatterm.store.usage import GROUPINGS

FIXTURE = Path(__file__).parent / "fixtures" / "store-v4.db"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00\x00\x01\x00\x00\x00\x00\x80" + \
    bytes(range(256)) * 40


def blob(data: bytes, name: str = "shot.png", mime: str = "image/png") -> PendingAttachment:
    meta = Attachment(name=name, mime=mime, size=len(data),
                      sha256=hashlib.sha256(data).hexdigest(), width=256, height=128)
    return PendingAttachment(meta=meta, data=data)


def rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    # A plain connection (it writes nothing): the last one to close removes the -wal and
    # -shm files that any reader of a WAL file makes, so the fixture's folder stays clean.
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def chat_with(store: Store, *blobs: PendingAttachment, text: str = "look",
              role: str | None = None) -> Conversation:
    conv = Conversation(provider="loop", model="m", title=text, role=role)
    user = Message(role=Role.USER, content=text, conversation_id=conv.id,
                   attachments=[b.meta for b in blobs])
    reply = Message(role=Role.ASSISTANT, content="seen", conversation_id=conv.id,
                    parent_id=user.id)
    conv.messages = [user, reply]
    store.create_conversation(conv, blobs=blobs)
    return conv


def blob_count(store: Store) -> int:
    with store.raw_connection() as conn:
        return int(conn.execute("SELECT count(*) FROM attachments").fetchone()[0])


# ---- the upgrade ----------------------------------------------------------------------


def test_the_fixture_is_a_real_version_4_database_with_usage() -> None:
    assert rows(FIXTURE, "PRAGMA user_version") == [(4,)]
    assert rows(FIXTURE, "SELECT count(*) FROM messages WHERE usage IS NOT NULL") == [(2,)]
    assert "attachments" not in {name for (name,) in rows(
        FIXTURE, "SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_upgrading_a_version_4_file_keeps_every_row_and_the_same_usage(tmp_path: Path) -> None:
    path = tmp_path / "chatterm.db"
    shutil.copyfile(FIXTURE, path)
    messages_before = rows(path, "SELECT * FROM messages ORDER BY seq")
    conversations_before = rows(path, "SELECT * FROM conversations ORDER BY id")
    # A version-4 file read as it is sums the usage JSON: what the upgrade must agree with.
    with Store.open(path, read_only=True, migrations=MIGRATIONS[:4]) as old:
        assert old._has_v5 is False
        before = {by: old.usage(by=by) for by in GROUPINGS}
    with Store.open(path) as store:
        with store.raw_connection() as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == 5
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        after = {by: store.usage(by=by) for by in GROUPINGS}
        assert store.usage().total.prompt_tokens == 320
        assert store.usage().total.completion_tokens == 75
        assert store.usage().total.cost == pytest.approx(0.0125)
        for summary in store.list_conversations():
            assert store.get_conversation(summary.id).role is None
    assert after == before
    width = len(messages_before[0])
    assert [row[:width] for row in rows(path, "SELECT * FROM messages ORDER BY seq")] == \
        messages_before
    width = len(conversations_before[0])
    assert [row[:width] for row in rows(path, "SELECT * FROM conversations ORDER BY id")] == \
        conversations_before
    assert rows(path.with_name("chatterm.db.bak-v4"), "PRAGMA user_version") == [(4,)]


def test_the_upgrade_counts_only_json_numbers_as_the_json_query_did(tmp_path: Path) -> None:
    path = tmp_path / "chatterm.db"
    shutil.copyfile(FIXTURE, path)
    conn = sqlite3.connect(path)
    # Values edited by hand: a string, a float where tokens are integers, broken JSON.
    seqs = [seq for (seq,) in conn.execute(
        "SELECT seq FROM messages WHERE usage IS NOT NULL ORDER BY seq")]
    conn.execute("UPDATE messages SET usage = ? WHERE seq = ?",
                 ('{"prompt_tokens": "12", "completion_tokens": 5.5, "cost": "free"}',
                  seqs[0]))
    conn.execute("UPDATE messages SET usage = '{not json' WHERE seq = ?", (seqs[1],))
    conn.commit()
    conn.close()
    with Store.open(path, read_only=True, migrations=MIGRATIONS[:4]) as old:
        before = {by: old.usage(by=by) for by in GROUPINGS}
    with Store.open(path) as store:
        assert {by: store.usage(by=by) for by in GROUPINGS} == before
        assert store.usage().total.prompt_tokens == 0
    assert rows(path, "SELECT prompt_tokens, completion_tokens, cost FROM messages "
                      f"WHERE seq IN ({seqs[0]}, {seqs[1]})") == [(None, None, None)] * 2


def test_usage_numbers_are_written_when_a_streamed_reply_ends(store: Store) -> None:
    conv = chat_with(store)
    reply = Message(role=Role.ASSISTANT, conversation_id=conv.id, parent_id=conv.messages[1].id,
                    state=MessageState.STREAMING, provider="loop", model="m")
    store.add_message(reply)
    reply.content, reply.state = "done", MessageState.COMPLETE
    reply.usage = Usage(prompt_tokens=7, completion_tokens=3, cost=0.5)
    store.update_message(reply)
    total = store.usage(conversation_id=conv.id).total
    assert (total.prompt_tokens, total.completion_tokens, total.cost) == (7, 3, 0.5)
    assert store.usage().total.tokens == 10


def test_usage_reads_only_the_covering_index(store: Store) -> None:
    with store.raw_connection() as conn:
        plan = " ".join(str(row[-1]) for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT count(*), sum(prompt_tokens), sum(cost) FROM messages "
            "INDEXED BY messages_usage WHERE role = 'assistant' AND created_at >= 0"))
    assert "COVERING INDEX messages_usage" in plan


# ---- attachments ----------------------------------------------------------------------


def test_attachments_are_stored_once_and_loaded_without_their_bytes(store: Store) -> None:
    image = blob(PNG)
    first = chat_with(store, image)
    second = chat_with(store, blob(PNG, name="again.png"))
    assert blob_count(store) == 1
    statements: list[str] = []
    with store.raw_connection() as conn:
        conn.set_trace_callback(statements.append)
    try:
        loaded = store.get_conversation(second.id)
    finally:
        with store.raw_connection() as conn:
            conn.set_trace_callback(None)
    assert loaded.messages[0].attachments == [
        Attachment(name="again.png", mime="image/png", size=len(PNG),
                   sha256=image.meta.sha256, width=256, height=128)]
    assert loaded.messages[1].attachments == []
    assert not any("data" in sql.split("FROM")[0] for sql in statements if "SELECT" in sql)
    assert store.attachment_data(image.meta.sha256) == PNG
    assert store.get_tree(first.id).messages[0].attachments[0].name == "shot.png"


def test_a_blob_goes_with_the_last_conversation_that_uses_it(store: Store) -> None:
    image, text = blob(PNG), blob(b"notes\n", name="notes.md", mime="text/markdown")
    first = chat_with(store, image, text)
    second = chat_with(store, image)
    assert blob_count(store) == 2
    store.delete_conversation(first.id)
    assert blob_count(store) == 1  # the text file was only in the first
    assert store.attachment_data(image.meta.sha256) == PNG
    store.delete_conversation(second.id)
    assert blob_count(store) == 0
    with pytest.raises(StoreError, match="is not in the store"):
        store.attachment_data(image.meta.sha256)


def test_deleting_a_subtree_or_a_message_collects_its_blobs(store: Store) -> None:
    conv = chat_with(store)
    user = Message(role=Role.USER, content="and this?", conversation_id=conv.id,
                   parent_id=conv.messages[1].id, attachments=[blob(PNG).meta])
    store.add_messages([user], blobs=[blob(PNG)])
    assert blob_count(store) == 1
    assert store.load_path(conv.id, None, None)[-1].attachments[0].sha256 == \
        blob(PNG).meta.sha256
    store.delete_subtree(conv.id, user.id)
    assert blob_count(store) == 0
    again = Message(role=Role.USER, content="once more", conversation_id=conv.id,
                    parent_id=conv.messages[1].id, attachments=[blob(PNG).meta])
    store.add_messages([again], blobs=[blob(PNG)])
    assert store.remove_message(again.id)
    assert blob_count(store) == 0


def test_a_fork_shares_the_blobs_and_keeps_them_alive(store: Store) -> None:
    conv = chat_with(store, blob(PNG))
    fork = store.fork_conversation(conv.id, conv.messages[1].id)
    assert store.get_conversation(fork.id).messages[0].attachments[0].name == "shot.png"
    store.delete_conversation(conv.id)
    assert blob_count(store) == 1
    assert store.attachment_data(blob(PNG).meta.sha256) == PNG


def test_content_neither_given_nor_stored_is_refused_and_nothing_is_saved(store: Store) -> None:
    conv = chat_with(store)
    orphan = Message(role=Role.USER, content="where is it", conversation_id=conv.id,
                     parent_id=conv.messages[1].id, attachments=[blob(b"elsewhere").meta])
    with pytest.raises(StoreError, match="its bytes were not given"):
        store.add_messages([orphan])
    assert [m.id for m in store.get_conversation(conv.id).messages] == \
        [m.id for m in conv.messages]
    lonely = Conversation(provider="loop", model="m")
    lonely.messages = [Message(role=Role.USER, content="where", conversation_id=lonely.id,
                               attachments=orphan.attachments)]
    with pytest.raises(StoreError, match="its bytes were not given"):
        store.create_conversation(lonely)
    assert len(store.list_conversations()) == 1


def test_unused_blobs_are_never_stored(store: Store) -> None:
    chat_with(store)
    conv = Conversation(provider="loop", model="m")
    conv.messages = [Message(role=Role.USER, content="no files", conversation_id=conv.id)]
    store.import_conversations([conv], blobs=[blob(PNG)])
    assert blob_count(store) == 0


def test_an_import_of_several_conversations_shares_one_set_of_blobs(store: Store) -> None:
    image = blob(PNG)
    convs = []
    for title in ("one", "two"):
        conv = Conversation(provider="loop", model="m", title=title)
        conv.messages = [Message(role=Role.USER, content=title, conversation_id=conv.id,
                                 attachments=[image.meta])]
        convs.append(conv)
    store.import_conversations(convs, blobs=[image])
    assert blob_count(store) == 1
    for conv in convs:
        assert store.get_conversation(conv.id).messages[0].attachments == [image.meta]


def test_a_store_before_version_5_refuses_attachments_in_one_line(tmp_path: Path) -> None:
    with Store.open(tmp_path / "v4.db", migrations=MIGRATIONS[:4]) as old:
        with pytest.raises(StoreError, match="predates schema version 5"):
            chat_with(old, blob(PNG))
        assert old.list_conversations() == []
        chat_with(old)  # without attachments it works as before


# ---- the role -------------------------------------------------------------------------


def test_a_conversation_keeps_its_role(store: Store) -> None:
    conv = chat_with(store, role="reviewer")
    assert store.get_conversation(conv.id).role == "reviewer"
    conv.role = "translator"
    store.update_conversation(conv)
    assert store.get_tree(conv.id).role == "translator"
    conv.role = None
    store.update_conversation(conv)
    assert store.get_conversation(conv.id).role is None


# ---- doctor ---------------------------------------------------------------------------


def test_doctor_s_copy_keeps_attachments_roles_and_usage(tmp_path: Path) -> None:
    from chatterm.store import doctor

    source = tmp_path / "chatterm.db"
    with Store.open(source) as store:
        kept = chat_with(store, blob(PNG), role="reviewer")
        damaged = chat_with(store, blob(b"text that will be damaged\n", name="t.txt",
                                        mime="text/plain"))
        reply = kept.messages[1]
        reply.usage = Usage(prompt_tokens=11, completion_tokens=4)
        store.update_message(reply)
        with store.raw_connection() as conn:
            conn.execute("UPDATE attachments SET data = x'00' WHERE mime = 'text/plain'")
    target = tmp_path / "copy.db"
    target.touch()
    result = doctor.recover(source, target)
    assert any("could not be read" in note for note in result.notes)
    with Store.open(target) as copy:
        again = copy.get_conversation(kept.id)
        assert again.role == "reviewer"
        assert again.messages[0].attachments[0].name == "shot.png"
        assert copy.attachment_data(again.messages[0].attachments[0].sha256) == PNG
        assert copy.get_conversation(damaged.id).messages[0].attachments == []
        assert copy.usage().total.prompt_tokens == 11
