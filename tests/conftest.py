"""Fixtures shared by every test: an isolated environment, a loopback HTTP server, and
the store of that environment (a test file may define its own `store` instead)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_FIXTURES = REPO_ROOT.parent / "shared" / "fixtures"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every chatterm location at a temp dir and clear provider keys from the env."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("CHATTERM_CONFIG", str(home / "config" / "config.toml"))
    monkeypatch.setenv("CHATTERM_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("CHATTERM_CACHE_DIR", str(home / "cache"))
    for var in ("AIMLAPI_API_KEY", "MISTRAL_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture(autouse=True)
def _e2e_mark(request: pytest.FixtureRequest) -> None:
    """Tells run_cli whether the running test is marked e2e (it refuses otherwise)."""
    import chatterm_env

    chatterm_env.current_test_is_e2e = request.node.get_closest_marker("e2e") is not None


@pytest.fixture
def shared_fixtures() -> Path:
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(f"recorded streams not available: {SHARED_FIXTURES} is absent")
    return SHARED_FIXTURES


@pytest.fixture
def loopback() -> Iterator[object]:
    """A scripted HTTP server on 127.0.0.1:0 (see tests/loopback.py)."""
    from loopback import LoopbackServer

    server = LoopbackServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def store(isolated_env: Path) -> Iterator[object]:
    """The isolated environment's store, open for the test and closed after it."""
    from chatterm.store import Store

    opened = Store.open()
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def server(loopback: object, monkeypatch: pytest.MonkeyPatch) -> object:
    """The loopback server, with the config the app's tests run on pointing at it (the
    default provider `loop`, its key in the environment: see ui_helpers.write_config).
    A test file with a `server` fixture of its own uses that one instead."""
    import os

    from ui_helpers import LOOP_KEY, LOOP_KEY_ENV, write_config

    monkeypatch.setenv(LOOP_KEY_ENV, LOOP_KEY)
    write_config(Path(os.environ["CHATTERM_CONFIG"]), loopback.url)  # type: ignore[attr-defined]
    return loopback
