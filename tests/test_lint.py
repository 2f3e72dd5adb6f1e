"""House rules that a reviewer would otherwise check by hand."""

from __future__ import annotations

import ast
import functools
import re
import shutil
import subprocess
import sys
import tomllib
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


def _tool(name: str) -> str:
    """The console script `name` of this venv's [dev] extra, or skip when it is absent."""
    found = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(found).exists():
        pytest.skip(f"{name} is not installed (it comes with the [dev] extra)")
    return found


def test_mypy_is_clean() -> None:
    """0 errors on chatterm, strict for the core ([tool.mypy] in pyproject.toml)."""
    _tool("mypy")
    result = subprocess.run([sys.executable, "-m", "mypy"], capture_output=True, text=True,
                            cwd=REPO, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_strict_for_all_of_chatterm() -> None:
    """strict = true, and no override relaxes it for any chatterm module (the UI included)."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert config["strict"] is True
    assert config["files"] == ["chatterm"]
    for override in config.get("overrides", []):
        modules = override["module"]
        modules = [modules] if isinstance(modules, str) else modules
        ours = [m for m in modules if m.split(".")[0] == "chatterm"]
        assert ours == [], f"strict checks relaxed for {ours}"


def test_import_contracts_hold() -> None:
    """The layers ([tool.importlinter] in pyproject.toml): core never imports the UI or
    Textual, the UI reaches the store and HTTP only through the engine, and so on."""
    lint_imports = _tool("lint-imports")
    result = subprocess.run([lint_imports, "--no-cache"], capture_output=True, text=True,
                            cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    assert f"Contracts: {len(contracts)} kept, 0 broken." in result.stdout, result.stdout


def _third_party_imports(folder: Path, local: set[str]) -> dict[str, str]:
    """Top-level names of what the .py files under `folder` import (at any depth, lazy
    imports too) that are neither the standard library nor `local`: name -> first file."""
    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*.py")):
        if "__snapshots__" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in local:
                    found.setdefault(top, path.relative_to(REPO).as_posix())
    return found


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def _declared(specs: list[str]) -> set[str]:
    return {_normalized(re.match(r"[A-Za-z0-9._-]+", spec)[0]) for spec in specs}


@functools.cache
def _providers() -> dict[str, list[str]]:
    from importlib.metadata import packages_distributions

    return dict(packages_distributions())  # scans every installed package: once


def _distributions(imported: dict[str, str]) -> dict[str, str]:
    """Distribution name -> the file that imports it; a name no distribution provides fails."""
    providers = _providers()
    missing = {name: where for name, where in imported.items() if name not in providers}
    assert missing == {}, f"imported, but no installed distribution provides it: {missing}"
    return {_normalized(dist): where
            for name, where in imported.items() for dist in providers[name]}


def test_every_imported_package_is_declared() -> None:
    """chatterm's third-party imports are exactly [project].dependencies; what the tests
    and benches import is declared too, in the [dev] extra."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = _declared(project["dependencies"])
    dev = _declared(project["optional-dependencies"]["dev"])

    used = _distributions(_third_party_imports(REPO / "chatterm", {"chatterm"}))
    assert {d: w for d, w in used.items() if d not in runtime} == {}, "not declared"
    assert runtime - set(used) == set(), "declared but never imported by chatterm"

    local = {"chatterm", *(p.stem for p in (REPO / "tests").glob("*.py")),
             *(p.stem for p in (REPO / "bench").glob("*.py"))}
    for folder in ("tests", "bench"):
        used = _distributions(_third_party_imports(REPO / folder, local))
        assert {d: w for d, w in used.items() if d not in runtime | dev} == {}, folder


def _starts_chatterm(node: ast.AST) -> bool:
    """[..., "-m", "chatterm", ...] in the code, or the tmux fixture / Tmux driver."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.List | ast.Tuple):
            values = [e.value if isinstance(e, ast.Constant) else None for e in sub.elts]
            if any(values[i:i + 2] == ["-m", "chatterm"] for i in range(len(values))):
                return True
        elif ((isinstance(sub, ast.Name) and sub.id in ("tmux", "Tmux"))
              or (isinstance(sub, ast.arg) and sub.arg == "tmux")):
            return True
    return False


def _marks(decorators: list[ast.expr]) -> set[str]:
    """The pytest.mark.NAME names among decorators or a pytestmark value."""
    found = set()
    for node in decorators:
        for sub in ast.walk(node):
            if (isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Attribute)
                    and sub.value.attr == "mark"):
                found.add(sub.attr)
    return found


def test_tests_that_start_chatterm_are_marked_e2e() -> None:
    """A test that starts chatterm itself ([python, -m, chatterm], tmux), directly or through
    a helper or fixture of its module, is marked e2e, so the fast loop leaves it out (run_cli
    checks the same at run time)."""
    unmarked = []
    for path in sorted((REPO / "tests").glob("test_*.py")):
        if path.name == "test_lint.py":
            continue  # this checker, whose own code spells the pattern out
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module_marks = set()
        functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets):
                module_marks |= _marks([node.value])
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                functions[node.name] = node
        if "e2e" in module_marks:
            continue
        starts = {name: _starts_chatterm(node) for name, node in functions.items()}
        uses = {name: {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
                | {a.arg for a in node.args.args} for name, node in functions.items()}
        changed = True
        while changed:  # through the module's helpers and fixtures
            changed = False
            for name in functions:
                if not starts[name] and any(starts.get(used) for used in uses[name]):
                    starts[name] = changed = True
        unmarked += [f"{path.name}::{name}" for name, node in functions.items()
                     if name.startswith("test_") and starts[name]
                     and "e2e" not in _marks(node.decorator_list)]
    assert unmarked == []


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


def test_every_package_folder_ships_in_the_wheel() -> None:
    """[tool.setuptools] packages lists each folder of chatterm with an __init__.py: a
    folder left out is missing from a wheel install (round 12's wheels lacked the engine)."""
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
                 ["tool"]["setuptools"]["packages"])
    folders = {".".join(init.parent.relative_to(REPO).parts)
               for init in (REPO / "chatterm").rglob("__init__.py")
               if "__pycache__" not in init.parts}
    assert folders - listed == set(), "package folders missing from [tool.setuptools] packages"
