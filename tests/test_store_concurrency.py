"""Two real processes writing the same data dir at once lose nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chatterm.conversation import Conversation, MessageState
from chatterm.store import Store

REPO_ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 300

WRITER = """
import sys, time
from pathlib import Path
from chatterm.conversation import Conversation, Message, MessageState, Role
from chatterm.store import Store

path, shared_id, tag, go, rounds = Path(sys.argv[1]), sys.argv[2], sys.argv[3], \\
    Path(sys.argv[4]), int(sys.argv[5])
deadline = time.monotonic() + 60
while not go.exists():  # start both writers together
    if time.monotonic() > deadline:
        sys.exit("never got the go signal")
    time.sleep(0.005)
store = Store.open(path)
own = Conversation(provider="p", model="m", title=f"own {tag}")
store.create_conversation(own)
# Each writer chains its messages the way a session does (a parent is what it saw last):
# in the shared chat the two writers make two branches, and nothing may be lost.
shared_parent = own_parent = None
for i in range(rounds):
    prompt = Message(role=Role.USER, content=f"{tag} shared {i}",
                     conversation_id=shared_id, parent_id=shared_parent)
    store.add_message(prompt)
    shared_parent = prompt.id
    reply = Message(role=Role.ASSISTANT, content="", conversation_id=own.id,
                    state=MessageState.STREAMING, parent_id=own_parent)
    store.add_message(reply)
    own_parent = reply.id
    for word in ("alpha", "beta", f"{tag}done{i}"):
        reply.content += word + " "
        store.update_message(reply)
    reply.state = MessageState.COMPLETE
    store.update_message(reply)
    if i % 25 == 0:
        # Like a `chatterm ask` loop: a fresh process-level open each time.
        store.close()
        store = Store.open(path)
store.close()
print(own.id)
"""


@pytest.mark.slow
def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "data" / "chatterm.db"
    with Store.open(path) as store:
        shared = Conversation(provider="p", model="m", title="shared")
        store.create_conversation(shared)
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    children = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), shared.id, tag, str(go),
                          str(ROUNDS)], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for tag in ("A", "B")
    ]
    go.touch()
    results = [child.communicate(timeout=240) for child in children]
    for child, (_out, err) in zip(children, results, strict=True):
        assert child.returncode == 0, err
    own_ids = [out.strip() for out, _ in results]

    with Store.open(path) as store:
        shared_messages = store.get_tree(shared.id).messages
        assert len(shared_messages) == 2 * ROUNDS
        assert store.count_messages(shared.id) == 2 * ROUNDS
        contents = {m.content for m in shared_messages}
        assert contents == {f"{tag} shared {i}" for tag in "AB" for i in range(ROUNDS)}
        # Each writer's own messages keep their order.
        for tag in "AB":
            mine = [int(m.content.split()[-1]) for m in shared_messages
                    if m.content.startswith(tag)]
            assert mine == list(range(ROUNDS))
        assert [store.position_of(m.id) for m in shared_messages] == list(range(2 * ROUNDS))
        # Two branches, one per writer, each a whole line of its own messages.
        assert len(store.shape(shared.id).leaves()) == 2
        assert len(store.get_conversation(shared.id).messages) == ROUNDS
        for tag, own_id in zip("AB", own_ids, strict=True):
            replies = store.get_conversation(own_id).messages
            assert len(replies) == ROUNDS
            assert all(m.state is MessageState.COMPLETE for m in replies)
            assert replies[-1].content == f"alpha beta {tag}done{ROUNDS - 1} "
            assert len(store.search(f"{tag}done{ROUNDS - 1}")) == 1
        with store.raw_connection() as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
            conn.execute(
                "INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)")


def test_a_second_connection_sees_writes_immediately(tmp_path: Path) -> None:
    path = tmp_path / "chatterm.db"
    with Store.open(path) as first, Store.open(path) as second:
        conv = Conversation(provider="p", model="m", title="visible")
        first.create_conversation(conv)
        # A commit is visible to every later read: no polling needed.
        assert second.last_conversation_id() == conv.id
        assert second.resolve_id(conv.id[:8]) == conv.id


@pytest.mark.slow
def test_many_first_opens_of_a_new_database_at_once(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "chatterm.db"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    opener = (
        "import sys; from pathlib import Path; from chatterm.store import Store; "
        "from chatterm.conversation import Conversation; "
        "s = Store.open(Path(sys.argv[1])); "
        "s.create_conversation(Conversation(provider='p', model='m', title=sys.argv[2])); "
        "s.close()"
    )
    children = [subprocess.Popen([sys.executable, "-c", opener, str(path), f"t{n}"], env=env,
                                 stderr=subprocess.PIPE, text=True) for n in range(6)]
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
    with Store.open(path) as store:
        assert sorted(s.title for s in store.list_conversations()) == [
            f"t{n}" for n in range(6)]
    assert not list(path.parent.glob("*.bak-*"))
