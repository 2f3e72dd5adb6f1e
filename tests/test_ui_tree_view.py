"""The tree view screen (ui/branches/tree_screen.py) on its own: what it draws at 120
and 40 columns, where the cursor starts, the keys, and what choosing a line answers.
The whole flow in the app (palette, switching branch, the chat redrawn) is in
test_ui_branches.py."""

from __future__ import annotations

from typing import Any

from test_branch_layout import A, U, build
from textual.app import App, ComposeResult
from textual.widgets import Static
from ui_helpers import screen_text, wait_until

from chatterm.ui.branches.layout import branch_count, tree_lines
from chatterm.ui.branches.tree_list import BranchTree
from chatterm.ui.branches.tree_screen import TreeScreen


class TreeHost(App[None]):
    def __init__(self, screen: TreeScreen) -> None:
        super().__init__()
        self.tree_screen = screen
        self.answers: list[str | None] = []

    def compose(self) -> ComposeResult:
        yield Static("the chat")

    def on_mount(self) -> None:
        self.push_screen(self.tree_screen, self.answers.append)


def forked() -> TreeScreen:
    shape, messages = build(
        ("u1", None, U, "hello there"),
        ("a1", "u1", A, "first answer"),
        ("u2", "a1", U, "tell me a joke"),
        ("a2", "u2", A, "a joke about cats"),
        ("a2b", "u2", A, "a joke about dogs, their owners and the long walks they take"),
        ("u3", "a2b", U, "explain \x1b]52;c;aGk=\x07 it"),
    )
    return TreeScreen(tree_lines(shape, messages, "a2"), branches=branch_count(shape),
                      title="jokes")


def line_with(app: App[Any], words: str) -> str:
    return next(line for line in screen_text(app).splitlines() if words in line)


async def test_the_tree_shows_every_version_marks_the_current_branch_and_answers_a_pick(
) -> None:
    screen = forked()
    app = TreeHost(screen)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: "a joke about dogs" in screen_text(app),
                         what="the tree drawn")
        text = screen_text(app)
        assert "6 messages · 2 branches" in text
        # The indent convention is said where it is seen (qa12 #8), as show --tree has it.
        assert "newest versions straight down, older ones one step in" in text
        # The current branch's last message is marked; versions carry their marks.
        assert "●" in line_with(app, "a joke about cats")
        assert "1/2" in line_with(app, "a joke about cats")
        assert "2/2" in line_with(app, "a joke about dogs")
        assert "model-a" in line_with(app, "a joke about dogs")
        # The older version is drawn one step in, under a guide (inside the box's own
        # border); the newest continues on its parent's column.
        cats, dogs = line_with(app, "a joke about cats"), line_with(app, "a joke about dogs")
        assert cats.index("model") == dogs.index("model") + 2
        assert cats[:cats.index("model")].count("│") == dogs[:dogs.index("model")].count("│") + 1
        assert line_with(app, "tell me a joke").index("you") == dogs.index("model")
        # Text from a model is drawn, never obeyed.
        assert "␛]52" in line_with(app, "explain")
        tree = screen.query_one(BranchTree)
        assert app.focused is tree
        assert tree.cursor_line is not None and tree.cursor_line.message_id == "a2"
        await pilot.press("down")
        assert tree.cursor_line.message_id == "a2b"
        await pilot.press("home")
        assert tree.cursor_line.message_id == "u1"
        await pilot.press("end", "up", "enter")
        await wait_until(pilot, lambda: app.answers, what="an answer")
        assert app.answers == ["a2b"]


async def test_esc_answers_nothing_and_a_click_picks_the_line_under_it() -> None:
    app = TreeHost(forked())
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: "first answer" in screen_text(app), what="drawn")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.answers, what="an answer")
        assert app.answers == [None]

    screen = forked()
    app = TreeHost(screen)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: "first answer" in screen_text(app), what="drawn")
        tree = screen.query_one(BranchTree)
        row = tree.line_of("a1")
        assert row is not None
        await pilot.click(BranchTree, offset=(10, row - int(tree.scroll_offset.y)))
        await wait_until(pilot, lambda: app.answers, what="an answer")
        assert app.answers == ["a1"]


async def test_at_40_columns_each_line_keeps_its_marks_and_cuts_the_words() -> None:
    app = TreeHost(forked())
    async with app.run_test(size=(40, 20)) as pilot:
        await wait_until(pilot, lambda: "2/2" in screen_text(app), what="drawn")
        dogs = next(line for line in screen_text(app).splitlines() if "2/2" in line)
        assert "…" in dogs and "model" in dogs
        assert all(len(line) <= 40 for line in screen_text(app).splitlines())


async def test_a_2000_message_tree_opens_on_its_current_message_far_down() -> None:
    edges: list[Any] = []
    parent = None
    for index in range(2000):
        mid = f"m{index}"
        role = U if index % 2 == 0 else A
        edges.append((mid, parent, role, f"message number {index}"))
        if index % 20 == 1:
            edges.append((f"alt{index}", parent, role, f"other version {index}"))
        parent = mid
    shape, messages = build(*edges)
    screen = TreeScreen(tree_lines(shape, messages, "m1500"), branches=branch_count(shape))
    app = TreeHost(screen)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: "message number 1500" in screen_text(app),
                         what="the current message in view")
        tree = screen.query_one(BranchTree)
        assert tree.cursor_line is not None and tree.cursor_line.message_id == "m1500"
        assert "message number 0 " not in screen_text(app)
        assert "2,100 messages · 101 branches" in screen_text(app)
        await pilot.press("pagedown")
        assert tree.cursor > tree.line_of("m1500")  # type: ignore[operator]
