"""A streaming reply's saves append what is new instead of rewriting the whole reply.

Before, each 0.5 s save rewrote the reply's row, so a reply of S bytes arriving in D-byte
steps wrote about S²/2D bytes (4,500x a 1 MB reply at 400 B a save, see
bench/bench_store.py --wal). These tests check the mechanism and what readers see; the
figures are in the bench.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from chatterm.conversation import Conversation, Message, MessageState, Role
from chatterm.store import Store


def bytes_written() -> int:
    with open("/proc/self/io") as io:
        return next(int(line.split()[1]) for line in io if line.startswith("wchar:"))


def streaming_reply(store: Store) -> Message:
    conv = Conversation(provider="p", model="m", title="long")
    store.create_conversation(conv)
    reply = Message(role=Role.ASSISTANT, conversation_id=conv.id,
                    state=MessageState.STREAMING)
    store.add_message(reply)
    return reply


def test_streaming_saves_append_and_readers_see_the_whole_text(tmp_path: Path) -> None:
    path = tmp_path / "chatterm.db"
    with Store.open(path) as store:
        reply = streaming_reply(store)
        size = 200_000
        before = bytes_written()
        while len(reply.content) < size:
            reply.content += "word " * 80  # 400 B: 0.5 s at ~100 tokens/s
            reply.reasoning += "hm "
            store.update_message(reply)
        # The old way wrote ~250 times the reply here; appending stays far below.
        assert bytes_written() - before < 60 * size
        with Store.open(path) as other:  # another process's view, mid-stream
            seen = other.get_conversation(reply.conversation_id).messages[-1]
            assert (seen.content, seen.reasoning) == (reply.content, reply.reasoning)
            assert seen.state is MessageState.STREAMING
        reply.state = MessageState.COMPLETE
        store.update_message(reply)
        conn = sqlite3.connect(path)
        assert conn.execute("SELECT count(*) FROM message_parts").fetchone() == (0,)
        assert conn.execute("SELECT content FROM messages WHERE id = ?",
                            (reply.id,)).fetchone() == (reply.content,)
        conn.close()
        assert [h.message_id for h in store.search("word")] == [reply.id]


def test_a_store_closing_mid_stream_folds_the_parts_into_the_reply(tmp_path: Path) -> None:
    path = tmp_path / "chatterm.db"
    with Store.open(path) as store:
        reply = streaming_reply(store)
        for _ in range(20):
            reply.content += "piece "
            store.update_message(reply)
    with Store.open(path) as store:
        saved = store.get_conversation(reply.conversation_id).messages[-1]
    assert saved.state is MessageState.INTERRUPTED
    assert saved.content == "piece " * 20


def test_a_reply_that_shrinks_mid_stream_is_written_whole(tmp_path: Path) -> None:
    path = tmp_path / "chatterm.db"
    with Store.open(path) as store:
        reply = streaming_reply(store)
        for text in ("abc", "abcdef", "xyz", "xyz!"):
            reply.content = text
            store.update_message(reply)
            assert store.get_conversation(reply.conversation_id).messages[-1].content == text
