"""Private Textual names are used in chatterm/ui/compat.py only, and it checks the version.

A private name is one Textual's own source defines with a leading underscore: a module
(`textual._ansi_sequences`), an attribute or method of a Textual class that a chatterm
class inherits (overridden, read or written on `self`), or one reached on any other
object (`node._bindings`, `super()._size_updated`). Found by reading Textual's source in
the installed package, so the check follows the pinned version.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import textwrap
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import textual

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "chatterm"
COMPAT = PACKAGE / "ui" / "compat.py"


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


@cache
def textual_private_names() -> frozenset[str]:
    """Every private name Textual's source defines or assigns."""
    names: set[str] = set()
    for path in Path(textual.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = node.name
            elif isinstance(node, ast.Attribute):
                name = node.attr
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                name = node.target.id
            else:
                continue
            if is_private(name):
                names.add(name)
    return frozenset(names)


@cache
def class_private_names(cls: type) -> frozenset[str]:
    """The private names one Textual class defines, on the class or on `self`."""
    names = {name for name in vars(cls) if is_private(name)}
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return frozenset(names)
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id == "self" and is_private(node.attr)):
            names.add(node.attr)
    return frozenset(names)


def inherited_private_names(cls: type) -> set[str]:
    names: set[str] = set()
    for base in cls.__mro__:
        if (base.__module__ or "").partition(".")[0] == "textual":
            names |= class_private_names(base)
    return names


def own_private_names(trees: list[ast.Module]) -> set[str]:
    """Private names chatterm defines itself (on self or as functions and classes)."""
    names: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                  and isinstance(node.value, ast.Name) and node.value.id == "self"):
                names.add(node.attr)
    return {name for name in names if is_private(name)}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def private_uses(path: Path, tree: ast.Module, own: set[str]) -> list[str]:
    found: list[str] = []
    textual_names = textual_private_names()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and (
                node.module.partition(".")[0] == "textual"):
            if any(map(is_private, node.module.split("."))) or any(
                    is_private(alias.name) for alias in node.names):
                found.append(f"{node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.partition(".")[0] == "textual" and any(
                        map(is_private, alias.name.split("."))):
                    found.append(f"{node.lineno}: import {alias.name}")
        elif isinstance(node, ast.Attribute) and node.attr in textual_names:
            on_super = (isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name)
                        and node.value.func.id == "super")
            on_other = not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
            if on_super or (on_other and node.attr not in own):
                found.append(f"{node.lineno}: .{node.attr}")
    if "textual" not in path.read_text(encoding="utf-8"):
        return found
    module = importlib.import_module(module_name(path))
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        cls = getattr(module, node.name, None)
        if not inspect.isclass(cls):
            continue
        inherited = inherited_private_names(cls)
        for inner in ast.walk(node):
            is_def = isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef)
            if is_def and inner.name in inherited:
                found.append(f"{inner.lineno}: {node.name} overrides {inner.name}")
            elif (isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name)
                  and inner.value.id == "self" and inner.attr in inherited):
                found.append(f"{inner.lineno}: {node.name} uses self.{inner.attr}")
    return found


def test_private_textual_names_are_used_only_in_compat() -> None:
    paths = sorted(PACKAGE.rglob("*.py"))
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in paths}
    own = own_private_names(list(trees.values()))
    offenders = {
        str(path.relative_to(ROOT)): uses
        for path, tree in trees.items()
        if path != COMPAT and (uses := private_uses(path, tree, own))
    }
    assert offenders == {}, "private Textual names outside chatterm/ui/compat.py"


def test_the_check_sees_compat_s_own_reaches() -> None:
    """The check finds what compat.py does (else it could pass by finding nothing)."""
    tree = ast.parse(COMPAT.read_text(encoding="utf-8"))
    uses = "\n".join(private_uses(COMPAT, tree, own_private_names([tree])))
    for reach in ("textual._ansi_sequences", "textual.widgets._footer", "._size_updated",
                  "._bindings"):
        assert reach in uses


def test_compat_is_written_for_the_pinned_textual() -> None:
    from chatterm.ui import compat

    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'"textual=={compat.WRITTEN_FOR}"' in pyproject
    assert compat.version_note(compat.WRITTEN_FOR) is None
    note = compat.version_note("9.0.1")
    assert note is not None and "\n" not in note
    assert "9.0.1" in note and compat.WRITTEN_FOR in note


async def test_another_textual_version_is_one_warning_in_the_app(
    loopback: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ui_helpers import LOOP_KEY, LOOP_KEY_ENV, make_app, screen_text, wait_until, write_config

    monkeypatch.setenv(LOOP_KEY_ENV, LOOP_KEY)
    write_config(Path(os.environ["CHATTERM_CONFIG"]), loopback.url)
    monkeypatch.setattr(textual, "__version__", "9.0.1")
    app = make_app()
    try:
        async with app.run_test(size=(120, 32), notifications=True) as pilot:
            await wait_until(pilot, lambda: "Textual 9.0.1 is installed" in screen_text(app),
                             what="the version warning")
            assert screen_text(app).count("Textual 9.0.1 is installed") == 1
            assert app.is_running
    finally:
        if app.store is not None:
            app.store.close()


async def test_one_wheel_notch_scrolls_the_chat_as_far_as_any_textual_scroll_view() -> None:
    """The message list's wheel handlers are public ones that run before Textual's own;
    the private override they replace made Textual scroll twice per notch."""
    from textual import events
    from textual.app import App, ComposeResult
    from textual.containers import VerticalScroll
    from textual.widgets import Static

    from chatterm.ui.chat.message_list import MessageList

    async def notch(kind: type[VerticalScroll], event: type[events.MouseEvent]) -> float:
        class Host(App[None]):
            def compose(self) -> ComposeResult:
                with kind(id="list"):
                    yield Static("\n".join(f"line {i}" for i in range(300)))

        app = Host()
        async with app.run_test(size=(80, 20)) as pilot:
            scroller = app.query_one("#list", VerticalScroll)
            scroller.anchor(False)
            scroller.scroll_to(y=100, animate=False, immediate=True)
            await pilot.pause()
            before = scroller.scroll_y
            scroller.post_message(event(scroller, 1, 1, 0, 0, 0, False, False, False,
                                        screen_x=1, screen_y=1))
            await pilot.wait_for_scheduled_animations()
            await pilot.pause()
            return scroller.scroll_y - before

    for event in (events.MouseScrollDown, events.MouseScrollUp):
        plain = await notch(VerticalScroll, event)
        assert plain != 0
        assert await notch(MessageList, event) == plain


def test_tests_read_public_properties_of_the_app_s_widgets() -> None:
    """No test reaches into a private member of chatterm's UI (a name chatterm/ui
    defines with a leading underscore); small public properties serve the tests."""
    ui_trees = [ast.parse(path.read_text(encoding="utf-8"))
                for path in sorted((PACKAGE / "ui").rglob("*.py"))]
    ui_private = own_private_names(ui_trees)
    offenders: list[str] = []
    for path in sorted((ROOT / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr in ui_private
                    and not (isinstance(node.value, ast.Name) and node.value.id == "self")):
                offenders.append(f"{path.name}:{node.lineno}: .{node.attr}")
    assert offenders == []
