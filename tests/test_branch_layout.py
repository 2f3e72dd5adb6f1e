"""The tree view's lines (ui/branches/layout.py): order, indent only where versions split,
version marks, the current branch, and what a line says about its message."""

from __future__ import annotations

from chatterm.conversation import Message, MessageState, Role
from chatterm.tree import Node, Shape
from chatterm.ui.branches.layout import branch_count, first_words, tree_lines


def build(*edges: tuple[str, str | None, Role, str]) -> tuple[Shape, dict[str, Message]]:
    shape = Shape(Node(mid, parent, position, float(position))
                  for position, (mid, parent, _, _) in enumerate(edges))
    messages = {mid: Message(role=role, content=text, id=mid, parent_id=parent,
                             model="model-a" if role is Role.ASSISTANT else None)
                for mid, parent, role, text in edges}
    return shape, messages


U, A = Role.USER, Role.ASSISTANT


def test_a_long_straight_chat_stays_on_one_column() -> None:
    edges: list[tuple[str, str | None, Role, str]] = []
    parent: str | None = None
    for index in range(2000):
        mid = f"m{index}"
        edges.append((mid, parent, U if index % 2 == 0 else A, f"text {index}"))
        parent = mid
    shape, messages = build(*edges)
    lines = tree_lines(shape, messages, "m1999")
    assert [line.message_id for line in lines] == [f"m{i}" for i in range(2000)]
    assert {line.level for line in lines} == {0}
    assert all(line.on_current for line in lines)
    assert [line.message_id for line in lines if line.is_current] == ["m1999"]
    assert all(line.version is None for line in lines)
    assert branch_count(shape) == 1


def test_older_versions_go_one_step_in_under_their_fork_and_the_newest_continues() -> None:
    shape, messages = build(
        ("u1", None, U, "hello"),
        ("a1", "u1", A, "first answer"),
        ("u2", "a1", U, "tell me a joke"),
        ("a2", "u2", A, "joke one"),
        ("u3", "a2", U, "another"),
        ("a3", "u3", A, "joke three"),
        ("a2b", "u2", A, "joke two"),     # a second version of a2
        ("u3b", "a2b", U, "more on two"),
    )
    lines = tree_lines(shape, messages, "a3")
    order = [(line.message_id, line.level, line.version) for line in lines]
    assert order == [
        ("u1", 0, None), ("a1", 0, None), ("u2", 0, None),
        ("a2", 1, (1, 2)), ("u3", 1, None), ("a3", 1, None),   # the older version, in
        ("a2b", 0, (2, 2)), ("u3b", 0, None),                  # the newest continues
    ]
    on_current = [line.message_id for line in lines if line.on_current]
    assert on_current == ["u1", "a1", "u2", "a2", "u3", "a3"]
    assert branch_count(shape) == 2
    by_id = {line.message_id: line for line in lines}
    assert by_id["a2"].model == "model-a" and by_id["u2"].model == ""
    assert by_id["u2"].role == "you" and by_id["a2"].role == "model"


def test_two_first_prompts_are_two_roots_and_nesting_adds_a_step_each() -> None:
    shape, messages = build(
        ("u1", None, U, "first try"),
        ("a1", "u1", A, "r"),
        ("a1b", "u1", A, "r2"),
        ("u1b", None, U, "second try"),
    )
    lines = tree_lines(shape, messages, "u1b")
    assert [(line.message_id, line.level) for line in lines] == [
        ("u1", 1), ("a1", 2), ("a1b", 1), ("u1b", 0)]
    assert [line.message_id for line in lines if line.on_current] == ["u1b"]


def test_a_line_says_what_a_message_without_text_is() -> None:
    stopped = Message(role=A, content="", state=MessageState.INTERRUPTED)
    failed = Message(role=A, content="", state=MessageState.ERROR, error="HTTP 500:\nboom")
    assert first_words(stopped) == "(interrupted)"
    assert first_words(failed) == "(error) HTTP 500: boom"
    assert first_words(Message(role=U, content="  two\n\nlines  ")) == "two lines"
    assert len(first_words(Message(role=U, content="word " * 10_000))) <= 200


def test_a_message_whose_text_was_not_read_still_gets_its_line() -> None:
    shape, messages = build(("u1", None, U, "hello"), ("a1", "u1", A, "hi"))
    del messages["a1"]
    lines = tree_lines(shape, messages, "a1")
    assert [line.message_id for line in lines] == ["u1", "a1"]
    assert lines[1].words == "" and lines[1].is_current
