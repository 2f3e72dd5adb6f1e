"""Conversation trees: the pure rules for paths, versions and branches (no I/O).

The messages of a conversation form a tree through `parent_id` (a first prompt's parent is
None, and an edited first prompt is a second root). Editing a prompt or regenerating a
reply adds a *sibling*; nothing is overwritten. A conversation shows and sends one
*branch*: the path from a root to its current leaf (`Conversation.current_id`).

`Shape` is the skeleton of one conversation's tree: for each message its parent, its
position (the order messages were made in) and when a branch through it was last
current (`active_at`). It is small (no text), so the engine keeps one in memory for the
open conversation and the store builds one with a single indexed query.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(slots=True)
class Node:
    id: str
    parent_id: str | None
    # Creation order inside the conversation; siblings are listed in this order.
    position: int
    # When a branch through this message was last made current; a new message starts
    # at its creation time. Flipping to a version shows its most recently active branch.
    active_at: float


class TreeError(ValueError):
    """A set of messages that is not a tree: a cycle or a parent that is not there."""


class Shape:
    """The tree of one conversation, by message id."""

    def __init__(self, nodes: Iterable[Node] = ()) -> None:
        self.nodes: dict[str, Node] = {}
        # parent id (None for the roots) -> children ids, in position order
        self.children: dict[str | None, list[str]] = {}
        for node in sorted(nodes, key=lambda n: n.position):
            self.add(node)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self.nodes

    def __len__(self) -> int:
        return len(self.nodes)

    # ---- changing it ---------------------------------------------------------------------

    def add(self, node: Node) -> None:
        """Add a message whose parent is already in the tree (or None, for a root)."""
        if node.id in self.nodes:
            raise TreeError(f"message {node.id} is in the conversation twice")
        if node.parent_id is not None and node.parent_id not in self.nodes:
            raise TreeError(f"message {node.id} answers {node.parent_id}, which is not there")
        self.nodes[node.id] = node
        siblings = self.children.setdefault(node.parent_id, [])
        # Nearly always appended last; an out-of-order position (import) is put in place.
        if siblings and self.nodes[siblings[-1]].position > node.position:
            siblings.append(node.id)
            siblings.sort(key=lambda sid: self.nodes[sid].position)
        else:
            siblings.append(node.id)

    def remove_subtree(self, message_id: str) -> list[str]:
        """Remove a message and everything below it; returns the removed ids, parents first."""
        gone = self.subtree(message_id)
        parent = self.nodes[message_id].parent_id
        self.children[parent].remove(message_id)
        if not self.children[parent]:
            del self.children[parent]
        for mid in gone:
            del self.nodes[mid]
            self.children.pop(mid, None)
        return gone

    def touch(self, leaf_id: str, at: float) -> list[str]:
        """Mark the branch ending at `leaf_id` as the most recently active; returns its path."""
        path = self.path_to(leaf_id)
        for mid in path:
            self.nodes[mid].active_at = at
        return path

    # ---- reading it ----------------------------------------------------------------------

    def path_to(self, message_id: str) -> list[str]:
        """The ids from a root down to `message_id`, inclusive."""
        path: list[str] = []
        current: str | None = message_id
        while current is not None:
            path.append(current)
            if len(path) > len(self.nodes):
                raise TreeError(f"the parents of message {message_id} form a cycle")
            current = self.nodes[current].parent_id
        path.reverse()
        return path

    def siblings(self, message_id: str) -> list[str]:
        """Every version of this message (itself included), oldest first."""
        return list(self.children[self.nodes[message_id].parent_id])

    def version(self, message_id: str) -> tuple[int, int]:
        """(which version this is, counting from 1; how many versions there are)."""
        siblings = self.children[self.nodes[message_id].parent_id]
        return siblings.index(message_id) + 1, len(siblings)

    def latest_leaf(self, message_id: str | None = None) -> str | None:
        """The leaf of the most recently active branch through `message_id` (None: the
        whole tree); None only for an empty tree. Ties go to the newest message."""
        current = message_id
        while True:
            below = self.children.get(current)
            if not below:
                return current
            current = max(below, key=lambda mid: (self.nodes[mid].active_at,
                                                  self.nodes[mid].position))

    def leaves(self) -> list[str]:
        """Every branch's last message, in the order they were made."""
        found = [mid for mid in self.nodes if mid not in self.children]
        found.sort(key=lambda mid: self.nodes[mid].position)
        return found

    def subtree(self, message_id: str) -> list[str]:
        """`message_id` and all its descendants, parents before children."""
        found = [message_id]
        index = 0
        while index < len(found):
            found.extend(self.children.get(found[index], ()))
            index += 1
        return found

    def depth(self, message_id: str) -> int:
        """0 for a root."""
        return len(self.path_to(message_id)) - 1

    def divergence(self, path_a: list[str], path_b: list[str]) -> int:
        """How many leading messages two paths share."""
        shared = 0
        for a, b in zip(path_a, path_b, strict=False):
            if a != b:
                break
            shared += 1
        return shared

    def walk(self) -> Iterator[tuple[int, str]]:
        """(depth, id) for every message, depth first, siblings oldest first (for a tree view)."""
        stack = [(0, mid) for mid in reversed(self.children.get(None, []))]
        while stack:
            depth, mid = stack.pop()
            yield depth, mid
            stack.extend((depth + 1, child) for child in reversed(self.children.get(mid, [])))

    def split_walk(self) -> Iterator[tuple[int, str]]:
        """(level, id) for every message in walk's order, indented only where versions
        split: the newest version of a message stays on its parent's level and each
        older one, with all below it, goes one step in. A long chat stays at level 0 and
        its newest versions read straight down; the level grows with how deeply side
        branches nest. The one rule both tree views (the app's and `show --tree`) use."""
        def children(parent_id: str | None, level: int) -> list[tuple[int, str]]:
            kids = self.children.get(parent_id, [])
            last = len(kids) - 1
            # Newest first: the stack pops the oldest first.
            return [(level if index == last else level + 1, kid)
                    for index, kid in reversed(list(enumerate(kids)))]
        stack = children(None, 0)
        while stack:
            level, mid = stack.pop()
            yield level, mid
            stack.extend(children(mid, level))
