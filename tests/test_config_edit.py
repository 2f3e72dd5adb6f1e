"""The config editor keeps the user's file: every way chatterm changes the config file
(`config set`, a key pasted on the first-run screen, the first-run URL, the theme picker)
changes only the line of the value it sets, and the running app sees the change."""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from loopback import sse_reply
from ui_helpers import LOOP_KEY_ENV, LOOP_PROVIDER, running, screen_text, wait_until

from chatterm.config import (
    add_provider,
    load_config,
    save_api_key,
    set_config_value,
)
from chatterm.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = (REPO_ROOT / "config.example.toml").read_text(encoding="utf-8")
# The example's own [providers.local] server: the first-run URL of the same server.
EXAMPLE_LOCAL_URL = "http://127.0.0.1:8080/v1"
CHAT = "chat/completions"


def changed_lines(before: str, after: str) -> list[str]:
    """The `-`/`+` lines of a diff of the two texts."""
    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(),
                                                  lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


@pytest.fixture
def example(tmp_path: Path) -> Path:
    path = tmp_path / "conf" / "config.toml"
    path.parent.mkdir()
    path.write_text(EXAMPLE, encoding="utf-8")
    path.chmod(0o600)
    return path


def app_config(loop_url: str) -> Path:
    """config.example.toml with the loopback server as the default provider, at
    $CHATTERM_CONFIG; its key comes from an env var that is not set (a first run)."""
    text = EXAMPLE.replace('default_provider = "aimlapi"', f'default_provider = "{LOOP_PROVIDER}"')
    text += (f"\n[providers.{LOOP_PROVIDER}]\n"
             f'base_url = "{loop_url}"\n'
             f'api_key_env = "{LOOP_KEY_ENV}"\n'
             'default_model = "model-a"\n'
             "max_retries = 0\n")
    path = Path(os.environ["CHATTERM_CONFIG"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


# ---- each editing path changes one line ----------------------------------------------------


@pytest.mark.parametrize(("key", "raw", "expected"), [
    ("params.temperature", "0.3", ["-temperature = 0.7", "+temperature = 0.3"]),
    ("theme", "chatterm-light", ['-theme = "chatterm-dark"', '+theme = "chatterm-light"']),
    ("default_provider", "local", ['-default_provider = "aimlapi"',
                                   '+default_provider = "local"']),
    ("keys.new_chat", "f10", ['+new_chat = "f10"']),
    ("providers.aimlapi.read_timeout", "90", ["-read_timeout = 60", "+read_timeout = 90"]),
    ("params.stop", '["END", "###"]', ["-stop = []", '+stop = ["END", "###"]']),
])
def test_config_set_changes_only_the_line_it_sets(example: Path, key: str, raw: str,
                                                  expected: list[str]) -> None:
    set_config_value(example, key, raw)
    assert changed_lines(EXAMPLE, example.read_text(encoding="utf-8")) == expected
    assert example.stat().st_mode & 0o777 == 0o600


def test_a_new_key_lands_in_its_own_table(example: Path) -> None:
    save_api_key(example, "aimlapi", "sk-abcdefghijkl1234")
    after = example.read_text(encoding="utf-8")
    assert changed_lines(EXAMPLE, after) == ['+api_key = "sk-abcdefghijkl1234"']
    assert load_config(example).provider("aimlapi").api_key == "sk-abcdefghijkl1234"
    # It is in [providers.aimlapi], not in whatever table comes last.
    aimlapi = after.split("[providers.aimlapi]")[1].split("[providers.local]")[0]
    assert 'api_key = "sk-abcdefghijkl1234"' in aimlapi


def test_the_first_run_url_of_a_known_server_changes_one_line(example: Path) -> None:
    name = add_provider(example, EXAMPLE_LOCAL_URL, "other-model", prefer="local")
    assert name == "local"
    assert example.read_text(encoding="utf-8") == EXAMPLE  # same server: nothing to add
    set_config_value(example, "default_provider", name)
    assert changed_lines(EXAMPLE, example.read_text(encoding="utf-8")) == [
        '-default_provider = "aimlapi"', '+default_provider = "local"']


def test_a_new_first_run_url_only_adds_its_table(example: Path) -> None:
    name = add_provider(example, "http://127.0.0.1:9/v1", "m", prefer="local")
    assert name == "local-2"
    changes = changed_lines(EXAMPLE, example.read_text(encoding="utf-8"))
    assert [line for line in changes if line.startswith("-")] == []
    assert [line for line in changes if line.strip("+")] == [
        "+[providers.local-2]", '+base_url = "http://127.0.0.1:9/v1"', '+default_model = "m"']


def test_the_theme_picker_save_changes_one_line(example: Path) -> None:
    from chatterm.ui.themes import save_theme

    config = load_config(example)
    assert save_theme("chatterm-light", example, config) is None
    assert changed_lines(EXAMPLE, example.read_text(encoding="utf-8")) == [
        '-theme = "chatterm-dark"', '+theme = "chatterm-light"']
    assert config.theme == "chatterm-light"


def test_comments_on_the_line_and_a_file_without_tables_survive(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    before = ('# mine\ntheme = "chatterm-dark"   # dark at night\n\n'
              "[params]\n'temperature' = 0.7 # warm\n")
    path.write_text(before, encoding="utf-8")
    set_config_value(path, "params.temperature", "1.1")
    set_config_value(path, "stream", "false")
    set_config_value(path, "providers.local.base_url", "http://127.0.0.1:9/v1")
    after = path.read_text(encoding="utf-8")
    assert "'temperature' = 1.1 # warm" in after
    assert 'theme = "chatterm-dark"   # dark at night' in after
    assert after.startswith('# mine\ntheme = "chatterm-dark"   # dark at night\nstream = false\n')
    assert "[providers.local]" in after and "[providers]" not in after
    loaded = load_config(path)
    assert loaded.params.temperature == 1.1 and loaded.stream is False


def test_a_utf8_bom_stays_and_a_new_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b'\xef\xbb\xbftheme = "chatterm-dark"\n')
    set_config_value(path, "stream", "false")
    assert path.read_bytes() == b'\xef\xbb\xbftheme = "chatterm-dark"\nstream = false\n'
    fresh = tmp_path / "new" / "dir" / "config.toml"
    set_config_value(fresh, "theme", "chatterm-light")
    assert fresh.read_text(encoding="utf-8") == 'theme = "chatterm-light"\n'
    assert fresh.stat().st_mode & 0o777 == 0o600
    assert fresh.parent.stat().st_mode & 0o777 == 0o700


def test_a_windows_file_keeps_its_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'theme = "chatterm-dark"\r\n\r\n[params]\r\ntemperature = 1\r\n')
    set_config_value(path, "params.top_p", "0.5")
    set_config_value(path, "stream", "false")
    assert path.read_bytes() == (b'theme = "chatterm-dark"\r\nstream = false\r\n\r\n'
                                 b"[params]\r\ntemperature = 1\r\ntop_p = 0.5\r\n")


# ---- the in-memory config follows --------------------------------------------------------


def test_the_config_in_memory_is_updated_with_the_file(example: Path) -> None:
    config = load_config(example)
    aimlapi = config.providers["aimlapi"]  # an object a client may already hold
    save_api_key(example, "aimlapi", "sk-abcdefghijkl1234", config)
    assert aimlapi.api_key == "sk-abcdefghijkl1234"
    assert config.providers["aimlapi"] is aimlapi
    set_config_value(example, "params.temperature", "0.2", config)
    assert config.params.temperature == 0.2
    name = add_provider(example, "http://127.0.0.1:9/v1", "m", config=config)
    assert config.providers[name].base_url == "http://127.0.0.1:9/v1"
    assert config.providers[name].default_model == "m"
    set_config_value(example, "default_provider", name, config)
    assert config.provider().name == name


# ---- a file it cannot edit is left alone -------------------------------------------------


@pytest.mark.parametrize(("text", "message"), [
    ("theme = \n", "invalid TOML: line 1"),
    ('[params]\ntemperature = "hot"\n', "params.temperature must be a number"),
    ('params = "x"\n', "params must be a table, not a string"),
    ('providers = 3\n', "providers must be a table, not an integer"),
])
def test_a_bad_file_gets_one_line_and_stays_untouched(tmp_path: Path, text: str,
                                                      message: str) -> None:
    path = tmp_path / "conf" / "config.toml"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    for edit in (lambda: set_config_value(path, "params.top_p", "0.5"),
                 lambda: save_api_key(path, "aimlapi", "sk-abcdefghijkl1234"),
                 lambda: add_provider(path, "http://127.0.0.1:9/v1")):
        with pytest.raises(ConfigError, match=message) as caught:
            edit()
        assert "\n" not in str(caught.value)
        assert path.read_text(encoding="utf-8") == text
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]  # no temp left


@pytest.mark.e2e
def test_cli_config_set_keeps_the_users_file() -> None:
    path = Path(os.environ["CHATTERM_CONFIG"])
    path.parent.mkdir(parents=True)
    path.write_text(EXAMPLE, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "chatterm", "config", "set", "params.max_tokens", "512"],
        capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
        timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert changed_lines(EXAMPLE, path.read_text(encoding="utf-8")) == [
        "-max_tokens = 4096", "+max_tokens = 512"]
    secret = "Bearer sk-header-secret-0123456789"
    shown = subprocess.run(
        [sys.executable, "-m", "chatterm", "config", "set", "providers.aimlapi.headers",
         f'{{"Authorization": "{secret}"}}'],
        capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
        timeout=60, check=False)
    assert shown.returncode == 0, shown.stderr
    assert "(hidden)" in shown.stdout and "sk-header" not in shown.stdout
    assert changed_lines(EXAMPLE, path.read_text(encoding="utf-8"))[-2:] == [
        '-headers = { "X-Title" = "chatterm" }', f'+headers = {{ Authorization = "{secret}" }}']
    path.write_text(EXAMPLE + "[oops\n", encoding="utf-8")
    bad = subprocess.run(
        [sys.executable, "-m", "chatterm", "config", "set", "theme", "chatterm-light"],
        capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
        timeout=60, check=False)
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1 and "invalid TOML" in bad.stderr
    assert path.read_text(encoding="utf-8") == EXAMPLE + "[oops\n"


# ---- in the app ------------------------------------------------------------------------


@pytest.mark.slow
async def test_a_key_pasted_on_the_first_run_screen_adds_one_line(loopback: Any) -> None:
    from chatterm.ui.dialogs.first_run import FirstRunScreen

    path = app_config(loopback.url)
    before = path.read_text(encoding="utf-8")
    loopback.script(CHAT, sse_reply(["welcome"]))
    secret = "sk-pasted-secret-key-abcdef123456"
    async with running() as (app, pilot):
        await wait_until(pilot, lambda: isinstance(app.screen, FirstRunScreen),
                         what="the first-run screen")
        app.screen.query_one("#fr-key").value = secret
        await pilot.click("#fr-save")
        await wait_until(pilot, lambda: app.screen is app.chat, what="back to the chat")
        assert changed_lines(before, path.read_text(encoding="utf-8")) == [
            f'+api_key = "{secret}"']
        assert app.config.providers[LOOP_PROVIDER].api_key == secret
        app.chat.prompt.insert("hello")
        await pilot.press("enter")
        await wait_until(pilot, lambda: loopback.requests and not app.chat.busy,
                         what="the reply")
        assert loopback.requests[0].headers["authorization"] == f"Bearer {secret}"


@pytest.mark.slow
async def test_the_first_run_url_changes_one_line(loopback: Any) -> None:
    from chatterm.ui.dialogs.first_run import FirstRunScreen

    path = app_config(loopback.url)
    before = path.read_text(encoding="utf-8")
    async with running() as (app, pilot):
        await wait_until(pilot, lambda: isinstance(app.screen, FirstRunScreen),
                         what="the first-run screen")
        app.screen.query_one("#fr-url").value = EXAMPLE_LOCAL_URL
        await pilot.click("#fr-use-url")
        await wait_until(pilot, lambda: app.screen is app.chat, what="back to the chat")
        assert changed_lines(before, path.read_text(encoding="utf-8")) == [
            f'-default_provider = "{LOOP_PROVIDER}"', '+default_provider = "local"']
        assert app.config.default_provider == "local"
        assert "local · local-model" in screen_text(app)


@pytest.mark.slow
async def test_the_theme_picker_changes_one_line(loopback: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from chatterm.ui.pickers.theme_picker import ThemePicker

    path = app_config(loopback.url)
    monkeypatch.setenv(LOOP_KEY_ENV, "sk-loop-test-key-0123456789")
    before = path.read_text(encoding="utf-8")
    async with running() as (app, pilot):
        await app.run_action("change_theme")
        await wait_until(pilot, lambda: isinstance(app.screen, ThemePicker), what="picker")
        await pilot.press(*"chatterm-light")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is app.chat, what="back to chat")
        assert app.config.theme == "chatterm-light"
    assert changed_lines(before, path.read_text(encoding="utf-8")) == [
        '-theme = "chatterm-dark"', '+theme = "chatterm-light"']
