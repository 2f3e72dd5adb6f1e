"""Big inputs: a 100,000-message conversation, a 1 MB streamed reply, a 1 MB prompt."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from chatterm_env import run_cli

from chatterm.conversation import Conversation, Message, MessageState, Role
from chatterm.store import Store

pytestmark = pytest.mark.slow

HUGE = 100_000


def test_a_100000_message_conversation_imports_and_opens_lazily(tmp_path: Path) -> None:
    conv = Conversation(provider="p", model="m", title="marathon")
    conv.messages = [
        Message(role=Role.USER if i % 2 == 0 else Role.ASSISTANT,
                content=f"turn {i} talks about item{i}", created_at=1.0 + i)
        for i in range(HUGE)
    ]
    with Store.open(tmp_path / "c.db") as store:
        store.import_conversation(conv)
        assert store.count_messages(conv.id) == HUGE
        assert store.list_conversations()[0].message_count == HUGE
        opened = store.get_conversation(conv.id, last_n=50)
        assert [m.content for m in opened.messages] == [
            f"turn {i} talks about item{i}" for i in range(HUGE - 50, HUGE)]
        earlier = store.load_messages(conv.id, HUGE - 50, 50)
        assert earlier[0].content.startswith(f"turn {HUGE - 100} ")
        assert earlier[-1].content.startswith(f"turn {HUGE - 51} ")
        assert [m.content for m in store.load_messages(conv.id, 1, 50)] == [
            "turn 0 talks about item0"]
        assert [h.message_id for h in store.search("item77777")] == [conv.messages[77777].id]
        assert len(store.search("talks")) == 50
        store.add_message(Message(role=Role.USER, content="one more", conversation_id=conv.id))
        assert store.get_conversation(conv.id, last_n=1).messages[0].content == "one more"
        assert store.position_of(conv.messages[-1].id) == HUGE - 1
        store.delete_conversation(conv.id)
        assert store.search("talks") == []


def test_a_1mb_reply_saved_while_streaming(tmp_path: Path) -> None:
    chunk = "lorem ipsum dolor sit amet " * 2000  # ~54 kB per save
    with Store.open(tmp_path / "c.db") as store:
        conv = Conversation(provider="p", model="m")
        store.create_conversation(conv)
        prompt = Message(role=Role.USER, content="q" * 1_000_000 + " needle",
                         conversation_id=conv.id)
        store.add_message(prompt)
        reply = Message(role=Role.ASSISTANT, conversation_id=conv.id,
                        state=MessageState.STREAMING, parent_id=prompt.id)
        store.add_message(reply)
        while len(reply.content) < 1_000_000:
            reply.content += chunk
            assert store.update_message(reply)
            saved = store.get_conversation(conv.id, last_n=1).messages[0]
            assert saved.content == reply.content
        reply.content += "finalword"
        reply.state = MessageState.COMPLETE
        store.update_message(reply)
        assert [h.message_id for h in store.search("finalword")] == [reply.id]
        assert [h.message_id for h in store.search("needle")] == [prompt.id]
        loaded = store.get_conversation(conv.id)
        assert loaded.messages[0].content == prompt.content
        assert loaded.messages[1].content == reply.content


@pytest.mark.e2e
def test_search_and_show_over_a_message_dense_with_hits() -> None:
    # FTS5's snippet() is quadratic in a message's hits: 2 MB made of the searched word
    # took minutes. `search` must answer with the hit highlighted, and `show` print it.
    filler = "word filler " * (2 * 1024 * 1024 // 12)
    text = "intro " + filler + "needle at the end"
    with Store.open() as store:
        conv = Conversation(provider="p", model="m", title="long one")
        store.create_conversation(conv)
        long_one = Message(role=Role.ASSISTANT, content=text, conversation_id=conv.id)
        store.add_message(long_one)
        store.add_message(Message(role=Role.USER, content="a short word",
                                  conversation_id=conv.id, parent_id=long_one.id))
    try:
        found = run_cli("search", "word", "--json", timeout=60)
        late = run_cli("search", "needle", "--json", timeout=60)
        shown = run_cli("show", conv.id, timeout=60)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"`{' '.join(map(str, exc.cmd[2:]))}` took over a minute") from None
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert len(hits) == 2
    assert all("word" in hit["snippet"] for hit in hits)
    (hit,) = json.loads(late.stdout)
    assert hit["snippet"].startswith("…") and hit["snippet"].endswith("needle at the end")
    assert shown.returncode == 0 and text.encode() in shown.stdout
