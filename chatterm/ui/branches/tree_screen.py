"""The conversation tree: every message of every branch, to jump to any of them.

Opened from the palette ("Show the conversation tree") or its key. The lines come made
(layout.tree_lines); the cursor starts on the current branch's last message. Enter (or
a click) on a line answers its message id: the chat then makes the latest branch
through it current and shows it. Esc answers None.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Static

from chatterm.ui.branches.layout import TreeLine
from chatterm.ui.branches.tree_list import BranchTree


class TreeScreen(Screen[str | None]):
    """Pick a message of the conversation; the answer is its id (None: Esc).

    A screen of its own, not a dialog over the chat: a modal would have the chat's
    widgets (a page of messages) drawn again under it at every frame.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back")]
    DEFAULT_CSS = """
    TreeScreen {
        background: $surface;
        padding: 0 1;
    }
    TreeScreen #tree-title {
        text-style: bold;
        color: $primary;
    }
    TreeScreen #tree-title, TreeScreen #tree-summary, TreeScreen #tree-help {
        height: 1;
        width: 100%;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    TreeScreen #tree-summary, TreeScreen #tree-help {
        color: $text-muted;
    }
    TreeScreen BranchTree {
        height: 1fr;
        margin: 1 0;
    }
    """

    def __init__(self, lines: Sequence[TreeLine], *, branches: int,
                 title: str = "Conversation tree") -> None:
        super().__init__()
        self.lines = list(lines)
        self.branches = branches
        self._title = title

    def compose(self) -> ComposeResult:
        current = next((i for i, line in enumerate(self.lines) if line.is_current), 0)
        messages = len(self.lines)
        yield Static(self._title, id="tree-title", markup=False)
        yield Static(f"{messages:,} message{'s' * (messages != 1)} · "
                     f"{self.branches:,} branch{'es' * (self.branches != 1)} · "
                     # The indent convention, said where it is seen (as show --tree's).
                     "● the branch shown · newest versions straight down, older ones "
                     "one step in",
                     id="tree-summary", markup=False)
        yield BranchTree(self.lines, cursor=current, id="tree-list")
        yield Static("Enter show this branch · ↑↓ PgUp PgDn Home End move · Esc back",
                     id="tree-help", markup=False)

    def on_mount(self) -> None:
        tree = self.query_one(BranchTree)
        tree.focus()
        # Once laid out, so the current message sits mid-screen with its context around.
        self.call_after_refresh(tree.center_cursor)

    def action_back(self) -> None:
        self.dismiss(None)

    @property
    def branch_tree(self) -> BranchTree:
        return self.query_one(BranchTree)

    @on(BranchTree.Chosen)
    def _chosen(self, event: BranchTree.Chosen) -> None:
        event.stop()
        self.dismiss(event.message_id)
