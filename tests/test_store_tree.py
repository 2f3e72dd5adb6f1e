"""The store keeps conversation trees: the current branch, versions, paging along a
branch, deleting a subtree, forking, message id prefixes (issue 12)."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatterm.conversation import Conversation, Message, MessageState, Role
from chatterm.errors import UsageError
from chatterm.store import Store
from chatterm.store.schema import MIGRATIONS


def say(conv: Conversation, role: Role, text: str, parent: Message | None) -> Message:
    return Message(role=role, content=text, conversation_id=conv.id,
                   parent_id=parent.id if parent else None)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "chatterm.db") as opened:
        yield opened


def branched(store: Store) -> tuple[Conversation, dict[str, Message]]:
    """q1 -> a1 -> q2 -> a2, plus a second version of a1 (b1 -> q3 -> a3) and a second
    version of q2 on the first branch (q2b -> a2b): three leaves, current a2b."""
    conv = Conversation(provider="p", model="m", title="tree")
    store.create_conversation(conv)
    m: dict[str, Message] = {}
    m["q1"] = say(conv, Role.USER, "first question", None)
    m["a1"] = say(conv, Role.ASSISTANT, "first answer", m["q1"])
    m["q2"] = say(conv, Role.USER, "second question", m["a1"])
    m["a2"] = say(conv, Role.ASSISTANT, "second answer", m["q2"])
    store.add_messages([m["q1"], m["a1"], m["q2"], m["a2"]])
    m["b1"] = say(conv, Role.ASSISTANT, "another first answer", m["q1"])
    store.add_message(m["b1"])
    m["q3"] = say(conv, Role.USER, "third question", m["b1"])
    m["a3"] = say(conv, Role.ASSISTANT, "third answer", m["q3"])
    store.add_messages([m["q3"], m["a3"]])
    m["q2b"] = say(conv, Role.USER, "second question, edited", m["a1"])
    m["a2b"] = say(conv, Role.ASSISTANT, "edited answer", m["q2b"])
    store.add_messages([m["q2b"], m["a2b"]])
    return conv, m


def ids(messages: list[Message]) -> list[str]:
    return [message.id for message in messages]


def test_get_conversation_is_the_current_branch_and_get_tree_is_everything(
        store: Store) -> None:
    conv, m = branched(store)
    loaded = store.get_conversation(conv.id)
    assert loaded.current_id == m["a2b"].id
    assert ids(loaded.messages) == [m["q1"].id, m["a1"].id, m["q2b"].id, m["a2b"].id]
    assert ids(store.get_conversation(conv.id, last_n=2).messages) == [m["q2b"].id,
                                                                       m["a2b"].id]
    tree = store.get_tree(conv.id)
    assert tree.current_id == m["a2b"].id
    assert len(tree.messages) == 9 == store.count_messages(conv.id)
    seen: set[str | None] = {None}
    for message in tree.messages:  # parents before children
        assert message.parent_id in seen
        seen.add(message.id)


def test_shape_versions_and_switching_branches_is_saved(store: Store, tmp_path: Path) -> None:
    conv, m = branched(store)
    shape = store.shape(conv.id)
    assert shape.version(m["b1"].id) == (2, 2) and shape.version(m["q2b"].id) == (2, 2)
    assert shape.leaves() == [m["a2"].id, m["a3"].id, m["a2b"].id]
    # Flip a1 -> b1: its latest branch ends at a3.
    leaf = shape.latest_leaf(m["b1"].id)
    assert leaf == m["a3"].id
    store.set_current(conv.id, leaf)
    store.close()
    with Store.open(tmp_path / "chatterm.db") as again:
        assert ids(again.get_conversation(conv.id).messages) == [
            m["q1"].id, m["b1"].id, m["q3"].id, m["a3"].id]
        # Back to a1: the most recently active branch below it is the edited one.
        shape = again.shape(conv.id)
        assert shape.latest_leaf(m["a1"].id) == m["a2b"].id
        again.set_current(conv.id, m["a2"].id)
        assert again.shape(conv.id).latest_leaf(m["a1"].id) == m["a2"].id
        assert again.shape(conv.id).latest_leaf() == m["a2"].id


def test_paging_along_the_branch_by_id(store: Store) -> None:
    conv, m = branched(store)
    store.set_current(conv.id, m["a3"].id)
    assert store.path_length(conv.id) == 4
    assert store.path_index(conv.id, m["q3"].id) == 2
    assert store.path_index(conv.id, m["a2"].id) is None  # on another branch
    assert ids(store.load_path(conv.id, m["q3"].id, 1)) == [m["b1"].id]
    assert ids(store.load_path(conv.id, m["q3"].id, None)) == [m["q1"].id, m["b1"].id]
    assert ids(store.load_path(conv.id, None, 2)) == [m["q3"].id, m["a3"].id]
    assert store.load_path(conv.id, m["q1"].id, 5) == []


def test_add_messages_can_name_the_current_leaf(store: Store) -> None:
    conv, m = branched(store)
    user = say(conv, Role.USER, "compare this", m["a2b"])
    one = say(conv, Role.ASSISTANT, "from model one", user)
    two = say(conv, Role.ASSISTANT, "from model two", user)
    store.add_messages([user, one, two], current_id=one.id)
    assert store.get_conversation(conv.id).current_id == one.id
    assert store.shape(conv.id).version(two.id) == (2, 2)
    # The current one is the most recently active of the versions.
    assert store.shape(conv.id).latest_leaf(user.id) == one.id
    with pytest.raises(UsageError, match="not in its conversation"):
        store.add_message(say(conv, Role.USER, "orphan", Message(role=Role.USER)))


def test_deleting_a_message_deletes_its_subtree_and_its_search_entries(store: Store) -> None:
    conv, m = branched(store)
    assert store.search("edited")
    # The current branch goes through q2b: it moves to the remaining sibling's branch.
    assert store.delete_subtree(conv.id, m["q2b"].id) == m["a2"].id
    assert store.search("edited") == []
    assert store.count_messages(conv.id) == 7
    assert store.get_conversation(conv.id).current_id == m["a2"].id
    # Deleting a branch the current one does not go through leaves it alone.
    assert store.delete_subtree(conv.id, m["b1"].id) == m["a2"].id
    assert store.search("third") == []
    # No sibling left: the parent becomes the leaf.
    assert store.delete_subtree(conv.id, m["q2"].id) == m["a1"].id
    assert ids(store.get_conversation(conv.id).messages) == [m["q1"].id, m["a1"].id]
    assert store.delete_subtree(conv.id, m["q1"].id) is None
    assert store.get_conversation(conv.id).messages == []
    with pytest.raises(UsageError, match="no message"):
        store.delete_subtree(conv.id, m["q1"].id)


def test_delete_subtree_of_a_streaming_reply(store: Store) -> None:
    conv, m = branched(store)
    reply = say(conv, Role.ASSISTANT, "", m["q2b"])
    reply.state = MessageState.STREAMING
    store.add_message(reply)
    reply.content = "partial words"
    store.update_message(reply)
    reply.content += " and more"
    store.update_message(reply)  # saved as an appended part
    assert store.delete_subtree(conv.id, reply.id) == m["a2b"].id
    with store.raw_connection() as conn:
        assert conn.execute("SELECT count(*) FROM message_parts").fetchone()[0] == 0


def test_fork_copies_the_branch_up_to_a_message_under_new_ids(store: Store) -> None:
    conv, m = branched(store)
    fork = store.fork_conversation(conv.id, m["q2b"].id, title="forked")
    loaded = store.get_conversation(fork.id)
    assert loaded.title == "forked"
    assert [x.content for x in loaded.messages] == ["first question", "first answer",
                                                    "second question, edited"]
    assert not set(ids(loaded.messages)) & set(ids(store.get_tree(conv.id).messages))
    assert loaded.current_id == loaded.messages[-1].id
    assert store.fork_conversation(conv.id, m["a3"].id).title == "tree (fork)"
    with pytest.raises(UsageError):
        store.fork_conversation(conv.id, "nope")


def test_message_ids_as_unique_prefixes(store: Store) -> None:
    conv = Conversation(provider="p", model="m")
    store.create_conversation(conv)
    first = Message(role=Role.USER, content="x", id="abc123", conversation_id=conv.id)
    second = Message(role=Role.ASSISTANT, content="y", id="abd456", conversation_id=conv.id,
                     parent_id="abc123")
    store.add_messages([first, second])
    assert store.resolve_message_id(conv.id, "abc") == "abc123"
    assert store.resolve_message_id(None, "ABD") == "abd456"
    with pytest.raises(UsageError, match="ambiguous"):
        store.resolve_message_id(conv.id, "ab")
    with pytest.raises(UsageError, match="no message"):
        store.resolve_message_id(conv.id, "zz")
    other = Conversation(provider="p", model="m")
    store.create_conversation(other)
    with pytest.raises(UsageError, match="no message in this conversation"):
        store.resolve_message_id(other.id, "abc")


def test_import_conversations_keeps_trees_in_one_transaction(tmp_path: Path,
                                                             store: Store) -> None:
    conv, m = branched(store)
    store.set_current(conv.id, m["a3"].id)
    tree = store.get_tree(conv.id)
    with Store.open(tmp_path / "other.db") as other:
        second = Conversation(provider="p", model="m")
        second.messages = [Message(role=Role.USER, content="lone", conversation_id=second.id)]
        broken = Conversation(provider="p", model="m")
        broken.messages = [Message(role=Role.USER, content="lost", parent_id="ghost")]
        with pytest.raises(UsageError, match="ghost"):
            other.import_conversations([tree, second, broken])
        assert other.list_conversations() == []
        other.import_conversations([tree, second])
        again = other.get_tree(conv.id)
        assert again.current_id == m["a3"].id
        assert [(x.id, x.parent_id) for x in again.messages] == [
            (x.id, x.parent_id) for x in tree.messages]
        assert ids(other.get_conversation(conv.id).messages) == ids(
            store.get_conversation(conv.id).messages)


def test_a_straight_list_without_parents_is_chained(store: Store) -> None:
    conv = Conversation(provider="p", model="m")
    conv.messages = [Message(role=Role.USER if i % 2 == 0 else Role.ASSISTANT,
                             content=f"m{i}") for i in range(5)]
    store.import_conversation(conv)
    loaded = store.get_conversation(conv.id)
    assert [x.content for x in loaded.messages] == [f"m{i}" for i in range(5)]
    assert [x.parent_id for x in loaded.messages] == [None, *ids(loaded.messages)[:-1]]
    assert loaded.current_id == loaded.messages[-1].id


def test_opening_at_a_message_on_another_branch_switches_to_it_and_saves_that(
        store: Store, tmp_path: Path) -> None:
    from chatterm.launch import open_at

    conv, m = branched(store)
    assert store.search("third")[0].message_id == m["q3"].id  # a hit on another branch
    opened = open_at(store, conv.id, m["q3"].id, above=3)
    assert ids(opened.conversation.messages) == [m["q1"].id, m["b1"].id, m["q3"].id,
                                                 m["a3"].id]
    assert opened.complete and opened.first_position == 0
    store.close()
    with Store.open(tmp_path / "chatterm.db") as again:
        assert again.get_conversation(conv.id).current_id == m["a3"].id
        # A hit on the current branch changes nothing.
        opened = open_at(again, conv.id, m["q1"].id, above=3, page=1)
        assert opened.conversation.current_id == m["a3"].id
        assert len(opened.conversation.messages) == 4


def _version_2_database(path: Path) -> Conversation:
    """A database made by the version-2 schema code, holding a straight line written the
    way the previous build wrote it (the engine chained parents; an import did not)."""
    conv = Conversation(provider="p", model="m", title="old line")
    with Store.open(path, migrations=MIGRATIONS[:2]) as old:
        with old.raw_connection() as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
            assert not any(row[1] == "current_id" for row in
                           conn.execute("PRAGMA table_info(conversations)"))
        conv.messages = [Message(role=Role.USER if i % 2 == 0 else Role.ASSISTANT,
                                 content=f"old words {i}") for i in range(6)]
        old.import_conversation(conv)
        with old.raw_connection() as conn:  # version 2 stored no parents for an import
            conn.execute("UPDATE messages SET parent_id = NULL")
    return conv


@contextlib.contextmanager
def read_only_mount(source: Path, target: Path) -> Iterator[Path]:
    """`source` seen read-only at `target` (a bind mount: even root cannot write there)."""
    target.mkdir()
    if subprocess.run(["mount", "--bind", str(source), str(target)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot bind-mount a directory here")
    try:
        if subprocess.run(["mount", "-o", "remount,bind,ro", str(target)],
                          capture_output=True).returncode != 0:
            pytest.skip("cannot remount read-only here")
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=True)


def test_a_version_2_database_on_a_read_only_mount_reads_as_a_straight_line(
        tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    conv = _version_2_database(tmp_path / "data" / "chatterm.db")
    with read_only_mount(tmp_path / "data", tmp_path / "ro") as mounted, \
            Store.open(mounted / "chatterm.db", read_only=True) as reader:
        with reader.raw_connection() as conn:  # not upgraded: it could not be
            assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        loaded = reader.get_conversation(conv.id)
        assert [x.content for x in loaded.messages] == [f"old words {i}" for i in range(6)]
        assert loaded.current_id == loaded.messages[-1].id
        assert reader.path_length(conv.id) == 6
        assert reader.path_index(conv.id, loaded.messages[4].id) == 4
        assert len(reader.shape(conv.id)) == 6
        assert len(reader.get_tree(conv.id).messages) == 6
        assert [x.content for x in reader.load_path(conv.id, loaded.messages[2].id, 1)] \
            == ["old words 1"]
        assert reader.resolve_message_id(conv.id, loaded.messages[0].id[:8]) \
            == loaded.messages[0].id


def test_upgrading_version_2_chains_the_line_and_keeps_every_field(tmp_path: Path) -> None:
    path = tmp_path / "chatterm.db"
    conv = _version_2_database(path)
    with Store.open(path, migrations=MIGRATIONS[:2]) as old:
        before = old.get_conversation(conv.id)
    with Store.open(path) as new:
        after = new.get_conversation(conv.id)
        assert after.current_id == before.messages[-1].id
        assert [x.parent_id for x in after.messages] == [None, *ids(before.messages)[:-1]]
        for old_message, new_message in zip(before.messages, after.messages, strict=True):
            old_message.parent_id = new_message.parent_id
            assert old_message == new_message
        assert new.search("old words")
    assert path.with_name("chatterm.db.bak-v2").is_file()


def test_doctor_s_copy_keeps_the_tree_and_the_current_branch(store: Store,
                                                             tmp_path: Path) -> None:
    from chatterm.store import doctor

    conv, m = branched(store)
    store.set_current(conv.id, m["a3"].id)
    before = store.get_tree(conv.id)
    store.close()
    target = doctor.free_name(tmp_path / "chatterm.db")
    doctor.recover(tmp_path / "chatterm.db", target)
    with Store.open(target) as copy:
        after = copy.get_tree(conv.id)
        assert after.current_id == m["a3"].id
        assert [(x.id, x.parent_id) for x in after.messages] == [
            (x.id, x.parent_id) for x in before.messages]


def test_a_cycle_made_behind_chatterm_s_back_is_one_line_not_a_hang(store: Store) -> None:
    from chatterm.errors import StoreError

    conv, m = branched(store)
    with store.raw_connection() as conn:  # q1 answers a1, which answers q1
        conn.execute("UPDATE messages SET parent_id = ? WHERE id = ?", (m["a1"].id, m["q1"].id))
    assert len(store.get_conversation(conv.id, last_n=50).messages) <= 9
    assert store.path_length(conv.id) <= 10
    with pytest.raises(StoreError, match="do not form a tree"):
        store.set_current(conv.id, m["a3"].id)
