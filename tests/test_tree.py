"""The pure tree rules: paths, versions, the most recently active branch, subtrees."""

from __future__ import annotations

import pytest

from chatterm.tree import Node, Shape, TreeError


def shape_of(*edges: tuple[str, str | None]) -> Shape:
    return Shape(Node(mid, parent, position, float(position))
                 for position, (mid, parent) in enumerate(edges))


def test_a_straight_line_is_one_path_with_single_versions() -> None:
    shape = shape_of(("u1", None), ("a1", "u1"), ("u2", "a1"), ("a2", "u2"))
    assert shape.path_to("a2") == ["u1", "a1", "u2", "a2"]
    assert shape.latest_leaf() == "a2"
    assert shape.version("a1") == (1, 1)
    assert shape.leaves() == ["a2"]
    assert shape.depth("u2") == 2


def test_siblings_are_versions_in_creation_order() -> None:
    shape = shape_of(("u1", None), ("a1", "u1"), ("a1b", "u1"), ("a1c", "u1"))
    assert shape.siblings("a1b") == ["a1", "a1b", "a1c"]
    assert shape.version("a1c") == (3, 3)
    assert shape.leaves() == ["a1", "a1b", "a1c"]


def test_an_edited_first_prompt_is_a_second_root() -> None:
    shape = shape_of(("u1", None), ("a1", "u1"), ("u1b", None), ("a1b", "u1b"))
    assert shape.version("u1b") == (2, 2)
    assert shape.latest_leaf() == "a1b"
    assert [mid for _, mid in shape.walk()] == ["u1", "a1", "u1b", "a1b"]


def test_flipping_lands_on_the_most_recently_active_branch_below() -> None:
    shape = shape_of(("u1", None), ("a1", "u1"), ("u2", "a1"), ("a2", "u2"),
                     ("u2b", "a1"), ("a2b", "u2b"))
    # Newest by default; touching the older branch makes it the one a flip shows.
    assert shape.latest_leaf("a1") == "a2b"
    assert shape.touch("a2", at=100.0) == ["u1", "a1", "u2", "a2"]
    assert shape.latest_leaf("a1") == "a2"
    assert shape.latest_leaf("u2b") == "a2b"


def test_removing_a_subtree_takes_every_descendant_and_nothing_else() -> None:
    shape = shape_of(("u1", None), ("a1", "u1"), ("u2", "a1"), ("a2", "u2"),
                     ("a1b", "u1"))
    assert shape.remove_subtree("a1") == ["a1", "u2", "a2"]
    assert set(shape.nodes) == {"u1", "a1b"}
    assert shape.siblings("a1b") == ["a1b"]


def test_a_missing_parent_or_a_duplicate_is_refused() -> None:
    with pytest.raises(TreeError, match="not there"):
        shape_of(("a1", "nobody"))
    with pytest.raises(TreeError, match="twice"):
        shape_of(("u1", None), ("u1", None))


def test_out_of_order_positions_still_list_siblings_by_position() -> None:
    shape = Shape([Node("u1", None, 0, 0.0), Node("b", "u1", 5, 0.0)])
    shape.add(Node("a", "u1", 2, 0.0))
    assert shape.siblings("b") == ["a", "b"]


def test_divergence_counts_the_shared_start() -> None:
    assert Shape().divergence(["a", "b", "c"], ["a", "b", "x", "y"]) == 2
