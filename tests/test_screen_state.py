"""The remembered screen layout: read tolerantly, written whole, never a reason not to start."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatterm.locations import screen_state_file
from chatterm.screen_state import ScreenState, load_screen_state, save_screen_state


def test_no_file_is_a_first_run() -> None:
    assert not screen_state_file().exists()
    assert load_screen_state() == (ScreenState(sidebar=False), None)


def test_saved_state_reads_back_and_lives_in_the_data_dir(isolated_env: Path) -> None:
    assert save_screen_state(ScreenState(sidebar=True)) is None
    assert screen_state_file() == isolated_env / "data" / "screen-state.json"
    assert load_screen_state() == (ScreenState(sidebar=True), None)
    assert save_screen_state(ScreenState(sidebar=False)) is None
    assert load_screen_state() == (ScreenState(sidebar=False), None)
    # Written whole through a temp file: nothing else is left in the folder.
    assert sorted(p.name for p in screen_state_file().parent.iterdir()) == ["screen-state.json"]


def test_unknown_keys_are_ignored() -> None:
    path = screen_state_file()
    path.parent.mkdir(parents=True)
    path.write_text('{"sidebar": true, "from_a_newer_version": [1, 2]}', encoding="utf-8")
    assert load_screen_state() == (ScreenState(sidebar=True), None)


@pytest.mark.parametrize(("content", "problem"), [
    (b"{ not json", "is not valid JSON"),
    (b"[true]", "is not a JSON object"),
    (b'{"sidebar": "yes"}', "sidebar must be true or false"),
    (b"\xff\xfe\x00garbage", "cannot read"),
])
def test_a_damaged_file_gives_defaults_and_one_line_naming_it(
    content: bytes, problem: str
) -> None:
    path = screen_state_file()
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    state, message = load_screen_state()
    assert state == ScreenState()
    assert message is not None and problem in message and str(path) in message
    assert "\n" not in message


def test_an_unreadable_path_gives_defaults_and_one_line() -> None:
    screen_state_file().mkdir(parents=True)  # a directory where the file should be
    state, message = load_screen_state()
    assert state == ScreenState()
    assert message is not None and "cannot read" in message


def test_a_failed_save_is_a_line_not_an_exception(isolated_env: Path) -> None:
    blocker = isolated_env / "data"
    blocker.write_text("a file where the data folder should be", encoding="utf-8")
    message = save_screen_state(ScreenState(sidebar=True))
    assert message is not None and "cannot save the screen layout" in message
    assert "\n" not in message
    assert blocker.read_text(encoding="utf-8").startswith("a file")  # left as it was
