"""The store never damages what it cannot read, migrates safely and recovers after crashes."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from chatterm.conversation import Conversation, Message, MessageState, Role
from chatterm.errors import StoreError
from chatterm.store import Store
from chatterm.store.schema import MIGRATIONS, Migration

REPO_ROOT = Path(__file__).resolve().parent.parent


def fingerprint(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


def seeded_database(path: Path, title: str = "keep me") -> str:
    with Store.open(path) as store:
        conv = Conversation(provider="p", model="m", title=title)
        store.create_conversation(conv)
        store.add_message(Message(role=Role.USER, content="precious words",
                                  conversation_id=conv.id))
        return conv.id


def assert_refused_untouched(path: Path, *fragments: str) -> None:
    before = fingerprint(path)
    with pytest.raises(StoreError) as caught:
        Store.open(path)
    message = str(caught.value)
    assert str(path) in message
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
    assert fingerprint(path) == before


def test_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "chatterm.db"
    seeded_database(path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    assert_refused_untouched(path, "newer chatterm", "99")


def test_a_text_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "chatterm.db"
    path.write_text("these are my notes, not a database\n")
    assert_refused_untouched(path, "not a chatterm database")


def test_a_corrupt_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "chatterm.db"
    seeded_database(path)
    data = bytearray(path.read_bytes())
    data[100:4096] = os.urandom(3996)  # keep the magic header, wreck the schema page
    path.write_bytes(bytes(data))
    assert_refused_untouched(path, "corrupt")


def test_a_truncated_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "chatterm.db"
    seeded_database(path)
    path.write_bytes(path.read_bytes()[:60])
    assert_refused_untouched(path)


def test_another_apps_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "chatterm.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.execute("INSERT INTO notes VALUES ('mine')")
    conn.commit()
    conn.close()
    assert_refused_untouched(path, "does not belong to chatterm", "notes")


def test_a_directory_in_the_way_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "chatterm.db"
    path.mkdir()
    with pytest.raises(StoreError, match="not a regular file"):
        Store.open(path)


# A migration after the newest one.
NEXT = MIGRATIONS[-1].version + 1


def _failing(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE half_done (x)")
    conn.execute("ALTER TABLE conversations ADD COLUMN pinned INTEGER")
    conn.execute("UPDATE conversations SET title = 'clobbered'")
    raise RuntimeError("boom in step two")


def test_a_failed_migration_leaves_the_old_database_and_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "chatterm.db"
    conv_id = seeded_database(path)
    steps = [*MIGRATIONS, Migration(NEXT, "breaks", _failing)]
    with pytest.raises(StoreError) as caught:
        Store.open(path, migrations=steps)
    message = str(caught.value)
    assert str(path) in message and "boom in step two" in message
    assert "left as it was" in message
    backup = path.with_name(f"chatterm.db.bak-v{NEXT - 1}")
    assert backup.is_file()
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    with Store.open(path) as store:
        assert store.get_conversation(conv_id).title == "keep me"
        with store.raw_connection() as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == NEXT - 1
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            columns = {r[1] for r in conn.execute("PRAGMA table_info(conversations)")}
    assert "half_done" not in tables and "pinned" not in columns
    with Store.open(backup) as copy:
        assert copy.get_conversation(conv_id).messages[0].content == "precious words"


def test_a_successful_migration_keeps_data_and_makes_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "chatterm.db"
    conv_id = seeded_database(path)

    def add_pinned(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE conversations ADD COLUMN pinned INTEGER DEFAULT 0")

    steps = [*MIGRATIONS, Migration(NEXT, "pinned flag", add_pinned)]
    with Store.open(path, migrations=steps) as store:
        assert store.get_conversation(conv_id).messages[0].content == "precious words"
        with store.raw_connection() as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == NEXT
    assert path.with_name(f"chatterm.db.bak-v{NEXT - 1}").is_file()
    # Reopening with the same code is a no-op: no second backup.
    Store.open(path, migrations=steps).close()
    assert not path.with_name(f"chatterm.db.bak-v{NEXT}").exists()
    # And the older code now refuses the newer file.
    assert_refused_untouched(path, "newer chatterm")


def test_a_new_database_needs_no_backup_and_a_failed_first_migration_rolls_back(
        tmp_path: Path) -> None:
    path = tmp_path / "chatterm.db"

    def broken_first(conn: sqlite3.Connection) -> None:
        MIGRATIONS[0].apply(conn)
        raise RuntimeError("first step fails")

    with pytest.raises(StoreError, match="first step fails"):
        Store.open(path, migrations=[Migration(1, "broken", broken_first)])
    Store.open(path).close()  # the empty file is still usable
    assert not list(tmp_path.glob("*.bak-*"))


CHILD = """
import sys
from chatterm.conversation import Conversation, Message, MessageState, Role
from chatterm.store import Store
from pathlib import Path
store = Store.open(Path(sys.argv[1]))
conv = Conversation(provider="p", model="m", title="crashy")
store.create_conversation(conv)
reply = Message(role=Role.ASSISTANT, conversation_id=conv.id, state=MessageState.STREAMING)
store.add_message(reply)
for part in ("first half, ", "second half"):
    reply.content += part
    store.update_message(reply)
print(conv.id, flush=True)
sys.stdin.read()  # stream "forever" until killed
"""


def spawn_streaming_child(path: Path) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    line = child.stdout.readline().strip()
    assert line, "the child died before streaming"
    return child, line


@pytest.mark.slow
def test_sigkill_mid_stream_leaves_an_interrupted_reply(tmp_path: Path) -> None:
    path = tmp_path / "chatterm.db"
    child, conv_id = spawn_streaming_child(path)
    try:
        # While the writer lives, another process opening the store leaves its stream alone.
        with Store.open(path) as other:
            reply = other.get_conversation(conv_id).messages[0]
            assert reply.state is MessageState.STREAMING
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert child.stdin is not None
        child.stdin.close()
        assert child.stdout is not None
        child.stdout.close()
    with Store.open(path) as store:
        reply = store.get_conversation(conv_id).messages[0]
        assert reply.state is MessageState.INTERRUPTED
        assert reply.content == "first half, second half"
        assert [h.message_id for h in store.search("second half")] == [reply.id]
    # The dead writer's lock file was cleaned up.
    assert list((tmp_path / "chatterm.db-writers").iterdir()) == []


def test_a_live_stream_in_this_process_survives_another_open_and_ends_on_close(
        tmp_path: Path) -> None:
    path = tmp_path / "chatterm.db"
    writer = Store.open(path)
    conv = Conversation(provider="p", model="m")
    writer.create_conversation(conv)
    reply = Message(role=Role.ASSISTANT, conversation_id=conv.id, content="growing",
                    state=MessageState.STREAMING)
    writer.add_message(reply)
    with Store.open(path) as reader:
        assert reader.get_conversation(conv.id).messages[0].state is MessageState.STREAMING
        writer.close()  # a clean close ends its own streams as interrupted
        assert reader.get_conversation(conv.id).messages[0].state is \
            MessageState.INTERRUPTED


def test_streaming_rows_without_a_writer_are_recovered(tmp_path: Path) -> None:
    path = tmp_path / "chatterm.db"
    conv_id = seeded_database(path)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE messages SET state = 'streaming', writer = NULL")
    conn.commit()
    conn.close()
    with Store.open(path) as store:
        assert store.get_conversation(conv_id).messages[0].state is MessageState.INTERRUPTED


def test_closed_store_refuses_calls(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "c.db")
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.list_conversations()
