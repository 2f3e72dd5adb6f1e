"""Ctrl+A: the attach dialog, a path field with Tab completion over a file tree.

Tab completes the field as a shell does (as far as the matches agree; the matches are
listed under the field when there are several), `~` is expanded. ↓ goes into the tree,
which starts in the folder the app was started in and follows the field when Tab
completes a folder; Enter on a file there (or a click) attaches it. Enter in the field
attaches what it names. The file is read and checked (chatterm.attach_files) on a worker
thread, so a 10 MB image never holds a frame; what is wrong with it (missing, too big, not
a kind that can be sent) is one line in the dialog, which stays open.

The dialog's result is the PendingAttachment, or None (Esc).
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DirectoryTree, Input, Label, Static
from textual.worker import Worker, WorkerState

from chatterm.attachments import AttachmentError, AttachmentLimits, PendingAttachment
from chatterm.ui import inert
from chatterm.ui.attach.paths import complete
from chatterm.ui.dialogs.base import Dialog
from chatterm.ui.widgets.key_footer import KeyFooter

if TYPE_CHECKING:
    from collections.abc import Iterable

    from textual.widgets.directory_tree import DirEntry
    from textual.widgets.tree import TreeNode

# Matches listed under the field after a Tab, at most (then "… and N more").
SHOWN_MATCHES = 8


class PathInput(Input):
    """The path field: Tab completes instead of moving the focus, ↓ goes to the tree."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # Not a priority binding: those run as the app receives the key, ahead of the
        # letters typed just before it that the field has not handled yet.
        Binding("tab", "complete", "Complete"),
        Binding("down", "app.focus_next", show=False),
    ]

    def action_complete(self) -> None:
        dialog = self.screen
        if isinstance(dialog, AttachDialog):
            dialog.complete_path()


class FileTree(DirectoryTree):
    """The tree, without hidden files (a dotfile is still attached by typing its path)."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [path for path in paths if not path.name.startswith(".")]

    def render_label(self, node: TreeNode[DirEntry], base_style: Style,
                     style: Style) -> Text:
        # A file name is hostile input: one holding ESC or BEL cleared the screen and set
        # the terminal's title from this tree (qa14 F7). Shown inert, as everywhere else.
        label = super().render_label(node, base_style, style)
        shown = inert.line(label.plain)
        if shown == label.plain:
            return label
        return Text(shown, style=base_style + style)


def load_in_thread(path: str, limits: AttachmentLimits) -> PendingAttachment:
    """Read and check `path` (runs on a worker thread: a big file is a read and a hash)."""
    from chatterm.attach_files import load_file

    return load_file(path, limits)


class AttachDialog(Dialog[PendingAttachment | None]):
    DEFAULT_CSS = """
    AttachDialog {
        align: center middle;
    }
    AttachDialog .dialog-box {
        width: 80;
        height: 80%;
        max-height: 24;
    }
    AttachDialog .dialog-title {
        padding: 0;
    }
    AttachDialog #attach-path {
        margin: 0;
    }
    AttachDialog #attach-matches {
        color: $text-muted;
        height: auto;
        max-height: 3;
    }
    AttachDialog #attach-matches.-empty {
        display: none;
    }
    AttachDialog KeyFooter {
        dock: bottom;
        width: 100%;
        min-height: 2;
    }
    AttachDialog FileTree {
        height: 1fr;
        min-height: 3;
        background: $surface;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, limits: AttachmentLimits, *, start: str | os.PathLike[str] = ".",
                 text: str = "") -> None:
        super().__init__()
        self.limits = limits
        self.start = Path(start)
        self._text = text
        self._loading: Worker[PendingAttachment] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label("Attach a file", classes="dialog-title", markup=False)
            yield PathInput(self._text, placeholder="path (Tab completes, ~ works)",
                            id="attach-path", compact=True)
            yield Static("", id="attach-matches", classes="-empty", markup=False)
            yield FileTree(self.start, id="attach-tree")
            yield self._error_line()
            yield Static("Enter attach · Tab complete · ↓ tree · Esc cancel",
                         classes="dialog-help", markup=False)
        # Its own footer over the chat's, whose keys do nothing while this is open.
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(PathInput).focus()

    @property
    def path_text(self) -> str:
        return self.query_one(PathInput).value

    @property
    def matches_text(self) -> str:
        """The matches line under the field ("" when hidden), for tests."""
        line = self.query_one("#attach-matches", Static)
        return "" if line.has_class("-empty") else str(line.render())

    def complete_path(self) -> None:
        field = self.query_one(PathInput)
        completed, names = complete(field.value)
        if inert.line(completed) != completed:
            # The field would show the name's control characters to the terminal as
            # they are (qa14 F7); the tree shows it inert and can pick it.
            self.show_error("that name holds control characters: pick it in the tree (↓)")
            return
        field.value = completed
        field.cursor_position = len(completed)
        shown = ""
        if len(names) > 1:
            more = len(names) - SHOWN_MATCHES
            shown = "  ".join(inert.line(name) for name in names[:SHOWN_MATCHES])
            if more > 0:
                shown += f"  … and {more} more"
        line = self.query_one("#attach-matches", Static)
        line.update(shown)
        line.set_class(not shown, "-empty")
        self.show_error("" if names or not field.value else "nothing there matches")
        folder = Path(os.path.expanduser(completed))
        if completed.endswith("/") and folder.is_dir():
            self.query_one(FileTree).path = folder

    @on(Input.Submitted, "#attach-path")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            self.show_error("type a path, or pick a file in the tree (↓)")
            return
        path = os.path.expanduser(text)
        if os.path.isdir(path):  # a folder: the tree shows it, as `cd` would
            self.query_one(FileTree).path = Path(path)
            field = self.query_one(PathInput)
            field.value = text if text.endswith("/") else text + "/"
            field.cursor_position = len(field.value)
            self.show_error("a folder: pick a file in the tree (↓), or Tab for its names")
            return
        self.attach(path)

    @on(DirectoryTree.FileSelected)
    def _picked(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        field = self.query_one(PathInput)
        field.value = str(event.path)
        self.attach(str(event.path))

    def attach(self, path: str) -> None:
        """Read `path` off the event loop; the dialog closes with it, or shows why not."""
        if self._loading is not None and self._loading.state is WorkerState.RUNNING:
            return
        self.show_error("")
        self._loading = self.run_worker(partial(load_in_thread, path, self.limits),
                                        thread=True, exit_on_error=False, group="attach")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._loading:
            return
        if event.state is WorkerState.SUCCESS:
            self.dismiss(event.worker.result)
        elif event.state is WorkerState.ERROR:
            error = event.worker.error
            if isinstance(error, AttachmentError):
                self.show_error(inert.line(error.message))
            else:
                self.show_error(f"cannot attach it: {type(error).__name__}: {error}")
