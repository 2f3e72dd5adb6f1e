"""The CLI over conversation trees: show (versions, --tree), branch, fork, message-id
prefixes, run as real subprocesses. The trees are saved through the Store, as the app
and `ask` save them; ask --regenerate/--edit/compare are in test_cli_versions.py."""

from __future__ import annotations

import json

import pytest
from chatterm_env import run_cli

from chatterm.conversation import Conversation, Message, Role
from chatterm.store import Store

# Ids chosen so that two of them share a prefix ("aa") and the rest can be typed short.
U1, A1, A2, U2, A3, U1B, A4 = (prefix + "0" * (32 - len(prefix)) for prefix in (
    "aa11", "aa22", "bb22", "cc33", "dd44", "ee55", "ff66"))


def save_tree() -> Conversation:
    """  U1 "What is a monad?"            U1B "What is a functor?" (an edited first prompt)
        /                 \\                 |
    A1 burrito (model-a)  A2 monoid (model-b)  A4 (model-a)
                            |
                          U2 "shorter please" -> A3 (model-b)   <- the current branch
    """
    conv = Conversation(provider="test", model="model-b", title="Monads")
    t = 1_700_000_000.0

    def msg(mid: str, parent: str | None, role: Role, text: str, model: str | None = None,
            at: float = 0) -> Message:
        return Message(role=role, content=text, id=mid, conversation_id=conv.id,
                       parent_id=parent, created_at=t + at,
                       provider="test" if model else None, model=model)

    conv.messages = [
        msg(U1, None, Role.USER, "What is a monad?", at=1),
        msg(A1, U1, Role.ASSISTANT, "A monad is a burrito.", "model-a", at=2),
        msg(A2, U1, Role.ASSISTANT, "A monoid in the category of endofunctors.", "model-b", 3),
        msg(U2, A2, Role.USER, "shorter please", at=4),
        msg(A3, U2, Role.ASSISTANT, "A wrapper with bind.", "model-b", at=5),
        msg(U1B, None, Role.USER, "What is a functor?", at=6),
        msg(A4, U1B, Role.ASSISTANT, "Something you can map over.", "model-a", at=7),
    ]
    conv.current_id = A3
    with Store.open() as store:
        store.create_conversation(conv)
    return conv


def ok(result: object) -> str:
    assert result.returncode == 0, result.stderr  # type: ignore[attr-defined]
    return result.stdout.decode()  # type: ignore[attr-defined]


def usage_error(result: object) -> str:
    """Exit code 2 and one line on stderr, never a traceback; the line."""
    err = result.stderr.decode()  # type: ignore[attr-defined]
    assert result.returncode == 2, (result.returncode, err)  # type: ignore[attr-defined]
    assert err.count("\n") <= 2 and "Traceback" not in err, err  # the line, and a hint
    return err


@pytest.mark.e2e
def test_show_prints_the_current_branch_and_marks_messages_with_versions() -> None:
    conv = save_tree()
    out = ok(run_cli("show", conv.id[:6]))
    headings = [line for line in out.splitlines() if "[" in line and line[:8].isalnum()]
    assert headings == [
        f"{U1[:8]} [user] [1/2]",
        f"{A2[:8]} [assistant · test/model-b] [2/2]",
        f"{U2[:8]} [user]",
        f"{A3[:8]} [assistant · test/model-b]",
    ]
    assert "shorter please" in out and "A wrapper with bind." in out
    assert "burrito" not in out and "What is a functor" not in out  # not other branches


@pytest.mark.e2e
def test_show_tree_prints_every_message_indented_under_what_it_answers() -> None:
    conv = save_tree()
    lines = ok(run_cli("show", conv.id, "--tree")).splitlines()
    rows = {mid: next(line for line in lines if mid[:8] in line)
            for mid in (U1, A1, A2, U2, A3, U1B, A4)}

    def indent(mid: str) -> int:
        return len(rows[mid]) - len(rows[mid].lstrip(" *"))

    assert "[1/2] model-a: A monad is a burrito." in rows[A1]
    assert "[2/2] user: What is a functor?" in rows[U1B]
    # As the app's tree view reads: the newest version carries straight on at its
    # parent's indent, an older one (and what follows it) sits one step in; a message
    # with one reply is followed by it at its own indent (a long straight chat stays flat).
    assert indent(U1B) == indent(A4) == 2  # two steps: the '*' column and its space
    assert indent(U1) == indent(A2) == indent(U2) == indent(A3) == 4
    assert indent(A1) == 6
    # Parents come before children, depth first: A2's branch before the second root.
    order = [lines.index(rows[mid]) for mid in (U1, A1, A2, U2, A3, U1B, A4)]
    assert order == sorted(order)
    # '*' marks the current branch, and only it.
    starred = {mid for mid, line in rows.items() if line.lstrip().startswith("*")}
    assert starred == {U1, A2, U2, A3}


@pytest.mark.e2e
def test_show_tree_indents_each_message_as_the_app_s_tree_view_does() -> None:
    """`show --tree` and Ctrl+T once used opposite conventions (qa12 finding 8)."""
    from chatterm.ui.branches.layout import tree_lines

    conv = save_tree()
    # A third version of A2's prompt's reply and a nested split below the burrito.
    t = 1_700_000_100.0
    more = [Message(role=Role.ASSISTANT, content="A typeclass.", id="ab" + "1" * 30,
                    conversation_id=conv.id, parent_id=U1, created_at=t, model="model-c"),
            Message(role=Role.USER, content="why a burrito?", id="ac" + "1" * 30,
                    conversation_id=conv.id, parent_id=A1, created_at=t + 1),
            Message(role=Role.USER, content="draw it", id="ad" + "1" * 30,
                    conversation_id=conv.id, parent_id=A1, created_at=t + 2)]
    with Store.open() as store:
        store.add_messages(more)
        store.set_current(conv.id, A3)
        shape, tree = store.shape(conv.id), store.get_tree(conv.id)
    app = [(line.level, line.message_id[:8])
           for line in tree_lines(shape, {m.id: m for m in tree.messages}, A3)]
    lines = ok(run_cli("show", conv.id, "--tree")).splitlines()[3:]
    # Two spaces a level, then the '*' column and a space.
    shown = [((len(line) - len(line.lstrip(" *"))) // 2 - 1, line.lstrip(" *")[:8])
             for line in lines]
    assert shown == app and len(shown) == 10
    assert {level for level, _ in shown} == {0, 1, 2, 3}


@pytest.mark.e2e
def test_show_json_is_export_v2_with_every_branch() -> None:
    conv = save_tree()
    data = json.loads(ok(run_cli("show", conv.id, "--json")))
    assert data["current_id"] == A3
    assert [(m["id"], m["parent_id"]) for m in data["messages"]] == [
        (U1, None), (A1, U1), (A2, U1), (U2, A2), (A3, U2), (U1B, None), (A4, U1B)]
    exported = json.loads(ok(run_cli("export", conv.id, "--format", "json")))
    assert exported == data
    markdown = ok(run_cli("export", conv.id))  # the current branch
    assert "A wrapper with bind." in markdown and "burrito" not in markdown


@pytest.mark.e2e
def test_branch_lists_one_line_per_branch() -> None:
    conv = save_tree()
    lines = ok(run_cli("branch", conv.id)).splitlines()
    assert len(lines) == 3  # A1, A3, A4, in the order they were made
    burrito, current, functor = lines
    assert burrito.startswith(f"  {A1[:8]}  depth 2  model-a  ")
    assert burrito.rstrip().endswith("A monad is a burrito.")  # where it departs
    assert current.startswith(f"* {A3[:8]}  depth 4  model-b  ")
    assert current.rstrip().endswith("(current)")
    assert functor.startswith(f"  {A4[:8]}  depth 2  model-a  ") and functor.endswith(
        "What is a functor?")
    rows = json.loads(ok(run_cli("branch", conv.id, "--json")))
    assert [(r["leaf_id"], r["depth"], r["model"], r["current"], r["departs_at"])
            for r in rows] == [(A1, 2, "model-a", False, A1), (A3, 4, "model-b", True, None),
                               (A4, 2, "model-a", False, U1B)]


@pytest.mark.e2e
def test_branch_message_id_makes_its_latest_branch_current_and_it_stays() -> None:
    conv = save_tree()
    result = run_cli("branch", conv.id, A1[:4])
    assert ok(result) == ""
    assert A1[:8] in result.stderr.decode()
    shown = ok(run_cli("show", conv.id))
    assert "burrito" in shown and "shorter please" not in shown
    assert json.loads(ok(run_cli("show", conv.id, "--json")))["current_id"] == A1
    # The second root's only branch, by its first message.
    ok(run_cli("branch", conv.id, U1B[:4]))
    assert json.loads(ok(run_cli("show", conv.id, "--json")))["current_id"] == A4
    # Through U1, the most recently current of its branches is the one shown: A1's.
    ok(run_cli("branch", conv.id, U1[:4]))
    assert json.loads(ok(run_cli("show", conv.id, "--json")))["current_id"] == A1
    # Through A2, its only leaf.
    ok(run_cli("branch", conv.id, A2[:4]))
    assert json.loads(ok(run_cli("show", conv.id, "--json")))["current_id"] == A3


@pytest.mark.e2e
def test_fork_copies_the_current_branch_up_to_a_message() -> None:
    conv = save_tree()
    result = run_cli("fork", conv.id, U2[:4], "--title", "Short monads")
    new_id = ok(result).strip()
    assert len(new_id) == 32 and new_id != conv.id
    forked = json.loads(ok(run_cli("show", new_id, "--json")))
    assert forked["title"] == "Short monads"
    assert [m["content"] for m in forked["messages"]] == [
        "What is a monad?", "A monoid in the category of endofunctors.", "shorter please"]
    assert not {m["id"] for m in forked["messages"]} & {U1, A2, U2}  # new ids
    assert forked["current_id"] == forked["messages"][-1]["id"]
    original = json.loads(ok(run_cli("show", conv.id, "--json")))
    assert len(original["messages"]) == 7 and original["current_id"] == A3
    assert len(json.loads(ok(run_cli("list", "--json")))) == 2


@pytest.mark.e2e
def test_bad_message_ids_are_one_line_and_change_nothing() -> None:
    conv = save_tree()
    before = ok(run_cli("show", conv.id, "--json"))
    unknown = usage_error(run_cli("branch", conv.id, "0123"))
    assert "0123" in unknown
    ambiguous = usage_error(run_cli("fork", conv.id, "aa"))  # U1 and A1
    assert "aa" in ambiguous
    usage_error(run_cli("branch", conv.id, ""))
    usage_error(run_cli("fork", conv.id))  # no message id
    usage_error(run_cli("show", conv.id, "--tree", "--json"))
    usage_error(run_cli("branch", "nosuchconv"))
    other = Conversation(provider="test", model="m")
    other.messages = [Message(role=Role.USER, content="elsewhere", conversation_id=other.id)]
    with Store.open() as store:
        store.create_conversation(other)
    # A message of another conversation is not one of this conversation's.
    usage_error(run_cli("branch", conv.id, other.messages[0].id))
    assert ok(run_cli("show", conv.id, "--json")) == before
    assert len(json.loads(ok(run_cli("list", "--json")))) == 2


def on_a_terminal(*args: str, columns: int) -> str:
    """Run chatterm with stdout on a pseudo-terminal `columns` wide; what it showed."""
    import fcntl
    import os
    import pty
    import struct
    import subprocess
    import sys
    import termios

    from chatterm_env import REPO_ROOT

    main_fd, child_fd = pty.openpty()
    fcntl.ioctl(child_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    env.pop("COLUMNS", None)
    proc = subprocess.run([sys.executable, "-m", "chatterm", *args], stdout=child_fd,
                          stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env,
                          timeout=60, cwd=REPO_ROOT)
    os.close(child_fd)
    output = b""
    while True:
        try:
            chunk = os.read(main_fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    os.close(main_fd)
    assert proc.returncode == 0, proc.stderr
    return output.decode().replace("\r\n", "\n")


@pytest.mark.e2e
def test_tree_and_branch_lines_fit_a_narrow_terminal_and_stay_whole_in_a_pipe() -> None:
    conv = save_tree()
    for command in (["show", conv.id, "--tree"], ["branch", conv.id]):
        shown = on_a_terminal(*command, columns=40)
        rows = [line for line in shown.splitlines() if any(m[:8] in line for m in (A1, A2))]
        assert rows and all(len(line) < 40 for line in rows), rows
        assert any(line.endswith("…") for line in rows), rows
        piped = ok(run_cli(*command))
        assert "A monoid in the category of endofunctors." in piped or \
            "A monad is a burrito." in piped
    assert "A monad is a burrito." in on_a_terminal("show", conv.id, "--tree", columns=120)


@pytest.mark.e2e
def test_fork_at_a_message_of_another_branch_copies_the_path_to_it() -> None:
    conv = save_tree()
    result = run_cli("fork", conv.id, A1[:4])
    new_id = ok(result).strip()
    assert result.stderr.decode() == (f"forked {conv.id[:8]} at {A1[:8]} as 'Monads (fork)': "
                                      "2 messages\n")
    forked = json.loads(ok(run_cli("show", new_id, "--json")))
    assert [m["content"] for m in forked["messages"]] == [
        "What is a monad?", "A monad is a burrito."]
    # Without --title, the name the app's "Fork chat here" gives it (the store's default).
    assert forked["title"] == "Monads (fork)"
    assert json.loads(ok(run_cli("show", conv.id, "--json")))["current_id"] == A3


def test_a_reply_without_provider_or_model_is_headed_without_none() -> None:
    from chatterm.cli.trees import heading
    from chatterm.conversation import Message, Role

    bare = Message(role=Role.ASSISTANT, content="hi", id="abcdef0123456789")
    assert heading(bare) == "abcdef01 [assistant · unknown model]"
    named = Message(role=Role.ASSISTANT, content="hi", id="abcdef0123456789", model="gpt-4o")
    assert heading(named) == "abcdef01 [assistant · gpt-4o]"
