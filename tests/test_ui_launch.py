"""Launch options: what `chatterm`, `-c`, `--resume` and `--provider/--model` open.

These run without a screen: preparing a launch must not need Textual at all.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from ui_helpers import write_config

from chatterm.conversation import Conversation, Message, Role
from chatterm.errors import UsageError
from chatterm.launch import FIRST_PAGE, LaunchOptions, prepare_launch
from chatterm.store import Store

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def config_file() -> Path:
    return write_config(Path(os.environ["CHATTERM_CONFIG"]), "http://127.0.0.1:9/v1",
                        extra='system_prompt = "Be brief."')


def seed(count: int, conversation_id: str | None = None, title: str = "t") -> str:
    conversation = Conversation(provider="loop", model="model-a", title=title)
    if conversation_id:
        conversation.id = conversation_id
    for index in range(count):
        conversation.messages.append(Message(
            role=Role.USER if index % 2 == 0 else Role.ASSISTANT,
            content=f"m{index}", conversation_id=conversation.id))
    with Store.open() as store:
        store.create_conversation(conversation)
    return conversation.id


def test_plain_launch_starts_a_new_chat_from_the_config(config_file: Path) -> None:
    state = prepare_launch(LaunchOptions())
    try:
        conversation = state.opened.conversation
        assert (conversation.provider, conversation.model) == ("loop", "model-a")
        assert conversation.system_prompt == "Be brief."
        assert conversation.messages == []
        assert not state.opened.saved
    finally:
        state.store.close()


def test_provider_and_model_flags_set_the_new_chat(config_file: Path) -> None:
    state = prepare_launch(LaunchOptions(provider="ollama", model="qwen3:8b"))
    try:
        conversation = state.opened.conversation
        assert (conversation.provider, conversation.model) == ("ollama", "qwen3:8b")
    finally:
        state.store.close()


def test_provider_flag_alone_takes_that_providers_default_model(config_file: Path) -> None:
    state = prepare_launch(LaunchOptions(provider="mistral"))
    try:
        assert state.opened.conversation.model == "mistral-small-latest"
    finally:
        state.store.close()


def test_unknown_provider_is_a_usage_error_with_close_matches(config_file: Path) -> None:
    with pytest.raises(UsageError, match="ollama"):
        prepare_launch(LaunchOptions(provider="olama"))


def test_continue_without_saved_chats_opens_a_new_one_with_a_note(config_file: Path) -> None:
    state = prepare_launch(LaunchOptions(continue_last=True))
    try:
        assert not state.opened.saved
        assert any("no saved conversation" in note for note in state.notes)
    finally:
        state.store.close()


def test_continue_opens_the_most_recent_conversation(config_file: Path) -> None:
    seed(2, title="old")
    newest = seed(3, title="new")
    state = prepare_launch(LaunchOptions(continue_last=True))
    try:
        assert state.opened.conversation.id == newest
        assert state.opened.saved and state.opened.complete
    finally:
        state.store.close()


def test_resume_by_unique_prefix_loads_only_the_last_page(config_file: Path) -> None:
    conversation_id = seed(FIRST_PAGE + 30, "abc123" + "0" * 26)
    seed(1, "abd999" + "0" * 26)
    state = prepare_launch(LaunchOptions(resume_id="abc"))
    try:
        opened = state.opened
        assert opened.conversation.id == conversation_id
        assert len(opened.conversation.messages) == FIRST_PAGE
        assert opened.first_position == 30
        assert not opened.complete
        assert opened.conversation.messages[0].content == "m30"
    finally:
        state.store.close()


def test_resume_with_model_flag_switches_the_reopened_chat(config_file: Path) -> None:
    conversation_id = seed(2)
    state = prepare_launch(LaunchOptions(resume_id=conversation_id, model="model-z"))
    try:
        assert state.opened.conversation.model == "model-z"
        assert state.override == ("loop", "model-z")
    finally:
        state.store.close()


@pytest.mark.parametrize("prefix", ["ab", "zzz"])
def test_ambiguous_or_unknown_resume_id_is_a_usage_error(config_file: Path, prefix: str) -> None:
    seed(1, "abc" + "0" * 29)
    seed(1, "abd" + "0" * 29)
    with pytest.raises(UsageError):
        prepare_launch(LaunchOptions(resume_id=prefix))


@pytest.mark.e2e
def test_bad_resume_id_fails_on_stderr_before_the_screen_opens(config_file: Path) -> None:
    # The real entry point: one line, exit code 2, no traceback, nothing drawn.
    done = subprocess.run([sys.executable, "-m", "chatterm", "--resume", "nope"], cwd=REPO,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 2
    assert "no conversation matches 'nope'" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_launch_module_does_not_import_textual() -> None:
    done = subprocess.run(
        [sys.executable, "-c",
         "import sys, chatterm.launch, chatterm.ui; print('textual' in sys.modules)"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.stdout.strip() == "False", done.stderr


def test_launch_reads_how_the_screen_was_left(config_file: Path) -> None:
    from chatterm.screen_state import ScreenState, save_screen_state

    state = prepare_launch(LaunchOptions())
    state.store.close()
    assert state.screen == ScreenState(sidebar=False) and state.notes == []
    assert save_screen_state(ScreenState(sidebar=True)) is None
    state = prepare_launch(LaunchOptions())
    state.store.close()
    assert state.screen == ScreenState(sidebar=True)


def test_a_damaged_screen_state_is_a_note_not_a_failed_launch(config_file: Path) -> None:
    from chatterm.locations import screen_state_file
    from chatterm.screen_state import ScreenState

    screen_state_file().parent.mkdir(parents=True, exist_ok=True)
    screen_state_file().write_text('{"sidebar": 1}', encoding="utf-8")
    state = prepare_launch(LaunchOptions())
    state.store.close()
    assert state.screen == ScreenState(sidebar=False)
    assert len(state.notes) == 1 and "sidebar must be true or false" in state.notes[0]


@pytest.mark.e2e
@pytest.mark.parametrize("empty", ["", "  "])
def test_an_empty_resume_id_is_a_usage_error_not_a_new_chat(config_file: Path,
                                                             empty: str) -> None:
    seed(1)
    with pytest.raises(UsageError, match="no conversation id given"):
        prepare_launch(LaunchOptions(resume_id=empty))
    done = subprocess.run([sys.executable, "-m", "chatterm", "--resume", empty], cwd=REPO,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 2 and "no conversation id given" in done.stderr
    asked = subprocess.run([sys.executable, "-m", "chatterm", "ask", "--conversation", empty,
                            "hi"], cwd=REPO, capture_output=True, text=True, timeout=60,
                           env={**os.environ, "PYTHONPATH": str(REPO)})
    assert asked.returncode == 2 and "no conversation id given" in asked.stderr


def test_a_damaged_screen_state_is_reported_once_then_replaced(config_file: Path) -> None:
    from chatterm.locations import screen_state_file

    path = screen_state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{ damaged", encoding="utf-8")
    first = prepare_launch(LaunchOptions())
    first.store.close()
    assert [note for note in first.notes if "screen-state.json" in note] != []
    second = prepare_launch(LaunchOptions())
    second.store.close()
    assert [note for note in second.notes if "screen-state.json" in note] == []
    assert path.read_text(encoding="utf-8") == '{"sidebar": false}\n'
