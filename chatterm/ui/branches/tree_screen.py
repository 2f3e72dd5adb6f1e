"""The conversation tree: every message of every branch, to jump to any of them.

Opened from the palette ("Show the conversation tree") or its key. The lines come made
(layout.tree_lines); the cursor starts on the current branch's last message. Enter (or
a click) on a line answers its message id: the chat then makes the latest branch
through it current and shows it. Esc answers None.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Label, Static

from chatterm.ui.branches.layout import TreeLine
from chatterm.ui.branches.tree_list import BranchTree
from chatterm.ui.dialogs.base import Dialog


class TreeScreen(Dialog[str | None]):
    """Pick a message of the conversation; the answer is its id (None: Esc)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Back")]
    DEFAULT_CSS = """
    TreeScreen {
        align: center middle;
    }
    TreeScreen > #tree-box {
        width: 96%;
        max-width: 140;
        height: auto;
        border: round $primary;
        background: $surface;
        padding: 0 1;
    }
    TreeScreen #tree-summary, TreeScreen .dialog-help {
        color: $text-muted;
        height: 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    TreeScreen BranchTree {
        height: auto;
    }
    """
    # The rows around the list: the border (2), the title and its gap (2), the summary
    # and the help line (1 each). The box fits a small tree and stops at 90% of the
    # screen for a big one, where the list scrolls.
    CHROME = 6

    def __init__(self, lines: Sequence[TreeLine], *, branches: int,
                 title: str = "Conversation tree") -> None:
        super().__init__()
        self.lines = list(lines)
        self.branches = branches
        self._title = title

    def compose(self) -> ComposeResult:
        current = next((i for i, line in enumerate(self.lines) if line.is_current), 0)
        messages = len(self.lines)
        with Vertical(id="tree-box"):
            yield Label(self._title, classes="dialog-title", markup=False)
            yield Static(f"{messages:,} message{'s' * (messages != 1)} · "
                         f"{self.branches:,} branch{'es' * (self.branches != 1)} · "
                         "● the branch shown", id="tree-summary", markup=False)
            yield BranchTree(self.lines, cursor=current, id="tree-list")
            yield Static("Enter show this branch · ↑↓ PgUp PgDn move · Esc back",
                         classes="dialog-help", markup=False)

    def on_mount(self) -> None:
        tree = self.query_one(BranchTree)
        self._fit(tree)
        tree.focus()
        # Once laid out, so the current message sits mid-screen with its context around.
        self.call_after_refresh(tree.center_cursor)

    def on_resize(self, event: events.Resize) -> None:
        self._fit(self.query_one(BranchTree))

    def _fit(self, tree: BranchTree) -> None:
        tree.styles.max_height = max(3, self.app.size.height * 9 // 10 - self.CHROME)

    @property
    def branch_tree(self) -> BranchTree:
        return self.query_one(BranchTree)

    @on(BranchTree.Chosen)
    def _chosen(self, event: BranchTree.Chosen) -> None:
        event.stop()
        self.dismiss(event.message_id)
