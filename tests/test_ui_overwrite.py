"""Nothing the user already has is replaced without a word: export asks before replacing a
file, and the first-run "Use this URL" never rewrites an existing [providers.local]."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import pytest
from loopback import sse_reply
from test_ui_chat import CHAT, keyless, seed_conversation, type_and_send, until_idle
from ui_helpers import running, screen_text, wait_until

from chatterm.config import add_provider, load_config
from chatterm.errors import ConfigError
from chatterm.launch import LaunchOptions
from chatterm.ui.dialogs.overwrite import free_path

pytestmark = pytest.mark.slow

__all__ = ["keyless"]  # a fixture, used by name (server is conftest.py's)


async def test_export_asks_before_replacing_a_file_and_offers_a_free_name(
        server: Any, tmp_path: Path) -> None:
    from chatterm.ui.dialogs.confirm import ConfirmDialog
    from chatterm.ui.dialogs.export import ExportDialog

    conversation_id = seed_conversation(4, title="to export")
    target = tmp_path / "notes.md"
    target.write_text("my own notes\n")
    async with running(LaunchOptions(resume_id=conversation_id)) as (app, pilot):
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ExportDialog), what="export")
        dialog = app.screen
        dialog.query_one("#export-path").value = str(target)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog),
                         what="the replace question")
        assert app.screen.question.startswith(f"notes.md already exists in {tmp_path}")
        await wait_until(pilot, lambda: "Keep it" in screen_text(app), what="the question")
        await pilot.press("enter")  # the focused button keeps the file
        await wait_until(pilot, lambda: app.screen is dialog, what="back to the export dialog")
        assert target.read_text() == "my own notes\n"
        assert dialog.query_one("#export-path").value == str(tmp_path / "notes-2.md")
        assert "notes-2.md" in dialog.error_text
        await pilot.press("enter")
        await wait_until(pilot, lambda: (tmp_path / "notes-2.md").exists(), what="notes-2.md")
        assert "message number 3" in (tmp_path / "notes-2.md").read_text()
        assert target.read_text() == "my own notes\n"

        # Asked again, and answered "Replace": then it is replaced.
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ExportDialog), what="export")
        app.screen.query_one("#export-path").value = str(target)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog),
                         what="the replace question")
        await pilot.press("y")
        await wait_until(pilot, lambda: "message number 3" in target.read_text(),
                         what="the replaced file")


def test_free_path_counts_on_from_a_numbered_name(tmp_path: Path) -> None:
    assert free_path(tmp_path / "a.md") == tmp_path / "a.md"
    (tmp_path / "a.md").write_text("")
    (tmp_path / "a-2.md").write_text("")
    assert free_path(tmp_path / "a.md") == tmp_path / "a-3.md"
    assert free_path(tmp_path / "a-2.md") == tmp_path / "a-3.md"


def local_tables(config_path: Path) -> dict[str, Any]:
    with config_path.open("rb") as handle:
        return tomllib.load(handle)["providers"]


async def test_first_run_url_never_replaces_an_existing_local_provider(keyless: Any) -> None:
    from chatterm.ui.dialogs.first_run import FirstRunScreen

    config_path = Path(os.environ["CHATTERM_CONFIG"])
    config_path.write_text(config_path.read_text() + (
        "[providers.local]\n"
        'base_url = "http://127.0.0.1:9/v1"\n'
        'default_model = "my-llama"\n'))
    keyless.script(CHAT, sse_reply(["second server"]))
    async with running() as (app, pilot):
        await wait_until(pilot, lambda: isinstance(app.screen, FirstRunScreen),
                         what="the first-run screen")
        app.screen.query_one("#fr-url").value = keyless.url
        app.screen.query_one("#fr-model").value = "other-model"
        await pilot.click("#fr-use-url")
        await wait_until(pilot, lambda: app.screen is app.chat, what="back to the chat")
        tables = local_tables(config_path)
        assert tables["local"] == {"base_url": "http://127.0.0.1:9/v1",
                                   "default_model": "my-llama"}
        assert tables["local-2"] == {"base_url": keyless.url, "default_model": "other-model"}
        await wait_until(pilot, lambda: "local-2 · other-model" in screen_text(app),
                         what="the new provider in the status bar")
        assert any("[providers.local-2]" in str(n.message)
                   for n in app._notifications), "no word about the new name"
        await type_and_send(pilot, "hello")
        await until_idle(pilot)
        assert keyless.requests[0].json["model"] == "other-model"
    assert load_config(config_path).default_provider == "local-2"


def test_add_provider_reuses_the_same_url_and_keeps_its_model(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    assert add_provider(path, "http://127.0.0.1:8080/v1/", "first") == "local"
    assert add_provider(path, "http://127.0.0.1:8080/v1", "second") == "local"
    assert local_tables(path)["local"] == {"base_url": "http://127.0.0.1:8080/v1",
                                           "default_model": "first"}
    # A built-in's name is never taken over either.
    assert add_provider(path, "http://127.0.0.1:1/v1", prefer="ollama") == "ollama-2"
    with pytest.raises(ConfigError, match="base_url must be an http"):
        add_provider(path, "localhost:8080")
    assert set(local_tables(path)) == {"local", "ollama-2"}
