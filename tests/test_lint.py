"""House rules that a reviewer would otherwise check by hand."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_ruff_is_clean() -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed (it comes with the [dev] extra)")
    result = subprocess.run([ruff, "check", "--no-cache", str(REPO)], capture_output=True,
                            text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
            if node.module == "chatterm.ui" or node.module.startswith("chatterm.ui."):
                names.add("chatterm.ui")
    return names


def test_core_modules_never_import_the_ui() -> None:
    """The import contract: only chatterm/ui (and the CLI's TUI launcher) may touch Textual."""
    offenders = []
    for path in sorted((REPO / "chatterm").rglob("*.py")):
        relative = path.relative_to(REPO).as_posix()
        if relative.startswith("chatterm/ui/") or relative == "chatterm/cli/tui.py":
            continue
        imported = _imports(path)
        if "textual" in imported or "chatterm.ui" in imported:
            offenders.append(relative)
    assert offenders == []


def test_ui_never_talks_http_or_sql_directly() -> None:
    offenders = [
        path.relative_to(REPO).as_posix()
        for path in sorted((REPO / "chatterm" / "ui").rglob("*.py"))
        if _imports(path) & {"httpx", "sqlite3"}
    ]
    assert offenders == []


def test_no_shared_fixture_is_copied_into_the_repo() -> None:
    shared = REPO.parent / "shared" / "fixtures"
    if not shared.is_dir():
        pytest.skip(f"{shared} is absent")
    import hashlib

    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    theirs = {digest(p) for p in shared.rglob("*") if p.is_file()}
    tracked = subprocess.run(["git", "ls-files"], capture_output=True, text=True, cwd=REPO)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    ours = [REPO / name for name in tracked.stdout.splitlines()]
    copied = [str(p) for p in ours if p.is_file() and digest(p) in theirs]
    assert copied == []
