"""The warm-up thread and the main thread must never import the same modules at once."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from chatterm.ui import warmup


@pytest.fixture
def fresh_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(warmup, "_started", threading.Event())
    monkeypatch.setattr(warmup, "_done", threading.Event())


def test_settle_returns_at_once_without_a_warm_up(fresh_state: None) -> None:
    warmup.settle(timeout=30)  # would hang the test if it waited
    assert not warmup.is_done()


def test_settle_waits_until_the_warm_up_has_finished(
    fresh_state: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = threading.Event()
    importing = threading.Event()

    def slow_import(name: str) -> None:
        importing.set()
        gate.wait(10)

    monkeypatch.setattr(warmup.importlib, "import_module", slow_import)
    monkeypatch.setattr(warmup, "WARM_LEXERS", ())
    warmup.mark_started()
    thread = threading.Thread(target=warmup.warm_up, daemon=True)
    thread.start()
    assert importing.wait(10)
    warmup.settle(timeout=0.05)  # still importing: settle gives up after its timeout
    assert not warmup.is_done()
    gate.set()
    warmup.settle(timeout=10)
    assert warmup.is_done()
    thread.join(10)


def test_a_failing_warm_up_still_releases_waiters(
    fresh_state: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(name: str) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(warmup.importlib, "import_module", broken)
    warmup.mark_started()
    with pytest.raises(RuntimeError):
        warmup.warm_up()
    warmup.settle(timeout=30)
    assert warmup.is_done()


def test_warm_up_freezes_what_it_loaded_out_of_the_collectors_sight(
    fresh_state: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    monkeypatch.setattr(warmup, "WARM_LEXERS", ())
    gc.unfreeze()
    try:
        assert gc.get_freeze_count() == 0
        warmup.mark_started()
        warmup.warm_up()
        assert warmup.is_done()
        assert gc.get_freeze_count() > 0  # full collections no longer walk the app
    finally:
        gc.unfreeze()


def test_the_tui_launches_without_collection_and_always_turns_it_back_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import argparse
    import gc

    import chatterm.ui.app
    from chatterm.cli.tui import open_tui
    from chatterm.errors import UsageError

    seen: list[bool] = []

    def failing_run_app(options: object) -> int:
        seen.append(gc.isenabled())
        raise UsageError("no such conversation")

    monkeypatch.setattr(chatterm.ui.app, "run_app", failing_run_app)
    args = argparse.Namespace(provider=None, model=None, continue_last=False, resume="nope")
    assert gc.isenabled()
    with pytest.raises(UsageError):
        open_tui(args)
    assert seen == [False]  # the launch ran with the collector off
    assert gc.isenabled()  # and a failed launch did not leave it off


async def test_the_app_turns_collection_back_on_after_its_first_frame(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import gc

    from ui_helpers import LOOP_KEY, LOOP_KEY_ENV, running, wait_until, write_config

    monkeypatch.setenv(LOOP_KEY_ENV, LOOP_KEY)
    write_config(Path(os.environ["CHATTERM_CONFIG"]), "http://127.0.0.1:9/v1")
    monkeypatch.setattr(warmup, "WARM_MODULES", ())
    monkeypatch.setattr(warmup, "WARM_LEXERS", ())
    gc.unfreeze()
    gc.disable()  # as `chatterm` launches the app
    try:
        async with running() as (app, pilot):
            await wait_until(pilot, gc.isenabled, what="the collector to be back on")
            assert app.screen is app.chat
            assert gc.get_freeze_count() > 0  # start-up objects kept out of its walks
    finally:
        gc.enable()
        gc.unfreeze()
