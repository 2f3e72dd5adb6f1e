"""A damaged database is never made worse, and `chatterm doctor` saves what is left.

Real SQLite files, damaged by overwriting whole pages (found with SQLite's dbstat table),
and the real CLI in subprocesses:

- a write that meets a damaged page rolls back completely: `ask` used to leave an empty
  conversation behind (the conversation and the prompt were two transactions);
- after SQLite reports corruption, the store refuses every later write in that process,
  even one that would not touch the damaged page, and names `chatterm doctor`;
- `chatterm doctor` checks the file and copies everything readable into a new database,
  leaving the original untouched; the copy opens, lists and searches.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from chatterm_env import run_cli, write_config
from loopback import LoopbackServer, sse_reply

from chatterm.conversation import Conversation, Message, Role
from chatterm.store import Store
from chatterm.store.doctor import LOST_TEXT
from chatterm.store.failures import DamagedDatabase

SCRIBBLE = bytes(range(256)) * 16  # one 4 KiB page of nonsense


def database() -> Path:
    return Path(os.environ["CHATTERM_DATA_DIR"]) / "chatterm.db"


def seed(count: int, long_every: int = 0) -> dict[str, str]:
    """`count` conversations of two messages; returns every message's text by id."""
    texts: dict[str, str] = {}
    with Store.open(database()) as store:
        for i in range(count):
            conv = Conversation(provider="test", model="m", title=f"chat {i}")
            answer = f"answer {i} walrus " * (2000 if long_every and i % long_every == 0 else 20)
            conv.messages = [Message(role=Role.USER, content=f"question {i} " * 20),
                             Message(role=Role.ASSISTANT, content=answer)]
            store.create_conversation(conv)
            texts.update({m.id: m.content for m in conv.messages})
    return texts


def pages_of(table: str, kind: str) -> list[int]:
    conn = sqlite3.connect(database())
    try:
        return [row[0] for row in conn.execute(
            "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = ? ORDER BY pageno",
            (table, kind))]
    finally:
        conn.close()


def scribble(*pages: int) -> None:
    with database().open("r+b") as handle:
        for page in pages:
            handle.seek((page - 1) * 4096)
            handle.write(SCRIBBLE)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_line(result: subprocess.CompletedProcess[bytes]) -> str:
    err = result.stderr.decode()
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err.strip()


@pytest.mark.e2e
def test_a_write_meeting_a_damaged_page_leaves_nothing_behind(loopback: LoopbackServer) -> None:
    seed(3)
    (messages_page,) = pages_of("messages", "leaf")  # where the next message would go
    scribble(messages_page)
    before = digest(database())
    write_config(loopback.url)
    loopback.always("chat/completions", sse_reply(["never ", "asked"]))

    result = run_cli("ask", "hello")
    line = one_line(result)
    assert result.returncode == 1
    assert str(database()) in line and "corrupt" in line and "chatterm doctor" in line, line
    assert loopback.requests == []
    assert digest(database()) == before
    wal = database().with_name("chatterm.db-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    conn = sqlite3.connect(database())
    assert conn.execute("SELECT count(*) FROM conversations").fetchone() == (3,)
    conn.close()


def test_after_corruption_is_reported_the_store_writes_nothing_more() -> None:
    seed(3)
    scribble(*pages_of("messages", "leaf"))
    with Store.open(database()) as store:
        conv_id = store.list_conversations()[0].id
        before = digest(database())
        with pytest.raises(DamagedDatabase):
            store.add_message(Message(role=Role.USER, content="more",
                                      conversation_id=conv_id))
        # This one touches only the (intact) conversations table, and is refused anyway.
        with pytest.raises(DamagedDatabase, match="chatterm doctor"):
            store.rename_conversation(conv_id, "new title")
        assert [s.title for s in store.list_conversations()][:1] != ["new title"]
    assert digest(database()) == before


@pytest.mark.e2e
def test_doctor_copies_what_can_be_read_and_leaves_the_original(
        loopback: LoopbackServer) -> None:
    texts = seed(120, long_every=10)
    leaves = pages_of("messages", "leaf")
    overflow = pages_of("messages", "overflow")
    scribble(leaves[len(leaves) // 2], overflow[len(overflow) // 2])
    before = digest(database())

    result = run_cli("doctor")
    assert result.returncode == 1, result.stderr
    report = result.stdout.decode()
    assert "integrity check:" in report and "problem" in report
    copy = database().with_name("chatterm.db.recovered")
    assert f"into {copy}" in report and "left untouched" in report
    assert not copy.with_name(copy.name + "-reserve").exists()
    assert digest(database()) == before

    conn = sqlite3.connect(copy)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()
    with Store.open(copy) as store:
        summaries = store.list_conversations()
        assert len(summaries) == 120
        recovered = [m for s in summaries for m in store.get_conversation(s.id).messages]
    assert len(texts) - 30 < len(recovered) < len(texts)  # one leaf page lost, not more
    lost_text = [m for m in recovered if m.error and LOST_TEXT in m.error]
    assert len(lost_text) == 1 and lost_text[0].content == ""
    for message in recovered:
        if message not in lost_text:
            assert message.content == texts[message.id]

    # Swapped in as the doctor says, it is an ordinary chatterm database again.
    database().rename(database().with_name("chatterm.db.damaged"))
    copy.rename(database())
    found = run_cli("search", "walrus")
    assert found.returncode == 0 and b"walrus" in found.stdout, found.stderr
    assert run_cli("doctor").stdout.decode().endswith("integrity check: ok — nothing to recover\n")
    assert not copy.exists()
