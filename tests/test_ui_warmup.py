"""The warm-up thread and the main thread must never import the same modules at once."""

from __future__ import annotations

import threading

import pytest

from chatterm.ui import warmup


@pytest.fixture
def fresh_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(warmup, "_started", threading.Event())
    monkeypatch.setattr(warmup, "_done", threading.Event())


def test_settle_returns_at_once_without_a_warm_up(fresh_state: None) -> None:
    warmup.settle(timeout=30)  # would hang the test if it waited
    assert not warmup._done.is_set()


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
    assert not warmup._done.is_set()
    gate.set()
    warmup.settle(timeout=10)
    assert warmup._done.is_set()
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
    assert warmup._done.is_set()


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
        assert warmup._done.is_set()
        assert gc.get_freeze_count() > 0  # full collections no longer walk the app
    finally:
        gc.unfreeze()
