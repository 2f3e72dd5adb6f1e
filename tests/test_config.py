"""Config loading, validation, key resolution, editing and masking."""

from __future__ import annotations

import os
import stat
import sys
import tomllib
from pathlib import Path

import pytest

from chatterm.config import (
    load_config,
    missing_key_message,
    resolve_api_key,
    save_api_key,
    set_config_value,
)
from chatterm.config.view import masked_config
from chatterm.errors import ConfigError, UsageError
from chatterm.providers import ProviderConfig

REPO_ROOT = Path(__file__).resolve().parent.parent


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


@pytest.fixture
def cfg_path(tmp_path: Path) -> Path:
    return tmp_path / "conf" / "config.toml"


# ---- loading ----------------------------------------------------------------------------


def test_missing_file_gives_defaults(cfg_path: Path) -> None:
    cfg = load_config(cfg_path)
    assert cfg.default_provider == "aimlapi"
    assert cfg.stream is True
    assert cfg.warnings == []
    assert set(cfg.providers) == {"aimlapi", "mistral", "openai", "ollama"}
    assert cfg.provider(None).base_url == "https://api.aimlapi.com/v1"
    assert not cfg_path.exists()


def test_default_path_comes_from_env(isolated_env: Path) -> None:
    path = write(isolated_env / "config" / "config.toml", 'default_model = "o1"\n')
    cfg = load_config()
    assert cfg.path == path
    assert cfg.default_model == "o1"


def test_full_file_is_applied(cfg_path: Path) -> None:
    write(
        cfg_path,
        """
default_provider = "mistral"
default_model = "mistral-large-latest"
system_prompt = "Be brief."
stream = false
theme = "nord"

[params]
temperature = 1
top_p = 0.5
max_tokens = 100
stop = "END"
seed = 7

[keys]
quit = "ctrl+q"

[providers.mistral]
read_timeout = 120
headers = { "X-Trace" = "1" }

[providers.local]
base_url = "http://127.0.0.1:8080/v1/"
default_model = "qwen"
""",
    )
    cfg = load_config(cfg_path)
    assert cfg.warnings == []
    assert cfg.default_provider == "mistral"
    assert cfg.stream is False
    assert cfg.theme == "nord"
    assert cfg.params.temperature == 1
    assert cfg.params.top_p == 0.5
    assert cfg.params.max_tokens == 100
    assert cfg.params.stop == ["END"]
    assert cfg.params.seed == 7
    assert cfg.keys == {"quit": "ctrl+q"}
    mistral = cfg.provider("mistral")
    # Overridden field by field: the rest of the built-in stays.
    assert mistral.read_timeout == 120
    assert mistral.headers == {"X-Trace": "1"}
    assert mistral.kind == "mistral"
    assert mistral.base_url == "https://api.mistral.ai/v1"
    assert mistral.api_key_env == "MISTRAL_API_KEY"
    local = cfg.provider("local")
    assert local.base_url == "http://127.0.0.1:8080/v1"
    assert local.kind == "openai"
    assert local.connect_timeout == 10 and local.read_timeout == 60 and local.max_retries == 3
    assert not local.needs_key
    assert cfg.model_for(None) == "mistral-large-latest"
    assert cfg.model_for("local") == "qwen"


def test_broken_toml_names_file_and_line(cfg_path: Path) -> None:
    write(cfg_path, 'stream = true\ntheme = "x"\ndefault_model = \n')
    with pytest.raises(ConfigError) as info:
        load_config(cfg_path)
    message = str(info.value)
    assert str(cfg_path) in message
    assert "line 3" in message
    assert "\n" not in message


def test_not_utf8_is_a_config_error(cfg_path: Path) -> None:
    cfg_path.parent.mkdir(parents=True)
    cfg_path.write_bytes(b'theme = "\xff"\n')
    with pytest.raises(ConfigError, match="UTF-8"):
        load_config(cfg_path)


@pytest.mark.parametrize(
    ("text", "key", "what"),
    [
        ("[providers.mistral]\nread_timeout = \"slow\"\n", "providers.mistral.read_timeout",
         "must be a number"),
        ("stream = \"yes\"\n", "stream", "true or false"),
        ("[params]\nmax_tokens = 1.5\n", "params.max_tokens", "integer"),
        ("[params]\ntemperature = true\n", "params.temperature", "number"),
        ("[params]\nstop = [1, 2]\n", "params.stop", "list of strings"),
        ("[providers.x]\nbase_url = \"ftp://a\"\n", "providers.x.base_url", "URL"),
        ("[providers.x]\nkind = \"claude\"\nbase_url = \"http://a\"\n", "providers.x.kind",
         "openai"),
        ("[providers.openai]\nmax_retries = -1\n", "providers.openai.max_retries", "0 or more"),
        ("[providers.openai]\nheaders = { A = 1 }\n", "providers.openai.headers", "strings"),
        ("[keys]\nquit = 3\n", "keys.quit", "string"),
        ("params = 3\n", "params", "table"),
        ("providers = { a = 1 }\n", "providers.a", "table"),
    ],
)
def test_wrong_type_names_file_and_key(cfg_path: Path, text: str, key: str, what: str) -> None:
    write(cfg_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(cfg_path)
    message = str(info.value)
    assert str(cfg_path) in message
    assert f" {key} " in message
    assert what in message


def test_wrong_type_never_echoes_the_value(cfg_path: Path) -> None:
    write(cfg_path, "[providers.openai]\napi_key = 123456789012345\n")
    with pytest.raises(ConfigError) as info:
        load_config(cfg_path)
    assert "123456789012345" not in str(info.value)
    assert "providers.openai.api_key must be a string" in str(info.value)


def test_new_provider_needs_base_url(cfg_path: Path) -> None:
    write(cfg_path, "[providers.groq]\napi_key_env = \"GROQ_API_KEY\"\n")
    with pytest.raises(ConfigError, match=r"providers\.groq\.base_url is required"):
        load_config(cfg_path)


def test_unknown_keys_are_warnings(cfg_path: Path) -> None:
    write(
        cfg_path,
        "colour = 1\n[params]\ntemprature = 0.2\n[providers.openai]\nread_timout = 5\n",
    )
    cfg = load_config(cfg_path)
    assert len(cfg.warnings) == 3
    assert all(str(cfg_path) in w and "\n" not in w for w in cfg.warnings)
    assert "'colour'" in cfg.warnings[0]
    assert "'params.temprature'" in cfg.warnings[1]
    assert "params.temperature" in cfg.warnings[1]  # the suggestion
    assert "'providers.openai.read_timout'" in cfg.warnings[2]
    assert cfg.params.temperature is None
    assert cfg.provider("openai").read_timeout == 60


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_readable_file_with_api_key_warns(cfg_path: Path) -> None:
    write(cfg_path, '[providers.openai]\napi_key = "sk-test-123456789"\n', mode=0o644)
    cfg = load_config(cfg_path)
    assert len(cfg.warnings) == 1
    warning = cfg.warnings[0]
    assert str(cfg_path) in warning
    assert "readable by others" in warning
    assert f"chmod 600 {cfg_path}" in warning
    assert "sk-test" not in warning

    cfg_path.chmod(0o600)
    assert load_config(cfg_path).warnings == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_readable_file_without_key_is_fine(cfg_path: Path) -> None:
    write(cfg_path, '[providers.openai]\napi_key_env = "K"\n', mode=0o644)
    assert load_config(cfg_path).warnings == []


def test_example_config_loads_without_warnings() -> None:
    example = REPO_ROOT / "config.example.toml"
    cfg = load_config(example)
    assert cfg.warnings == []
    assert cfg.provider("local").base_url == "http://127.0.0.1:8080/v1"


def test_example_config_documents_every_key() -> None:
    from chatterm.config import PARAM_KEYS, PROVIDER_KEYS, TOP_KEYS

    text = (REPO_ROOT / "config.example.toml").read_text(encoding="utf-8")
    for key in [*TOP_KEYS, *PARAM_KEYS, *PROVIDER_KEYS]:
        assert f"\n{key} =" in text or f"\n# {key} =" in text, key


def test_loading_has_no_import_side_effects(tmp_path: Path) -> None:
    import subprocess

    env = dict(os.environ, CHATTERM_CONFIG=str(tmp_path / "c" / "config.toml"),
               PYTHONPATH=str(REPO_ROOT))
    code = "import chatterm.config, chatterm.catalog, chatterm.model_list"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=tmp_path)
    assert not (tmp_path / "c").exists()


# ---- providers --------------------------------------------------------------------------


def test_unknown_provider_gets_close_matches(cfg_path: Path) -> None:
    cfg = load_config(cfg_path)
    with pytest.raises(UsageError, match=r"unknown provider 'mistrall' \(did you mean mistral"):
        cfg.provider("mistrall")
    with pytest.raises(UsageError, match="known: aimlapi"):
        cfg.provider("zzzzzz")


def test_unknown_default_provider_is_a_config_error(cfg_path: Path) -> None:
    write(cfg_path, 'default_provider = "openia"\n')
    cfg = load_config(cfg_path)
    with pytest.raises(ConfigError, match=r"default_provider 'openia'.*did you mean openai"):
        cfg.provider(None)


# ---- API keys ---------------------------------------------------------------------------


def test_key_from_env_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = ProviderConfig(name="p", base_url="http://x", api_key_env="P_KEY",
                              api_key="from-config", api_key_command="echo from-command")
    monkeypatch.setenv("P_KEY", "  from-env \n")
    assert resolve_api_key(provider) == "from-env"
    monkeypatch.setenv("P_KEY", "")
    assert resolve_api_key(provider) == "from-config"
    provider.api_key = None
    assert resolve_api_key(provider) == "from-command"


def test_key_command_first_line_stripped() -> None:
    provider = ProviderConfig(name="p", base_url="http://x",
                              api_key_command="printf '\\n  secret-1  \\nuser: me\\n'")
    assert resolve_api_key(provider) == "secret-1"


def test_key_command_failure_hides_output() -> None:
    provider = ProviderConfig(name="p", base_url="http://x",
                              api_key_command="echo leaked-secret; echo err-secret >&2; exit 3")
    with pytest.raises(ConfigError) as info:
        resolve_api_key(provider)
    message = str(info.value)
    assert "exit status 3" in message and "'p'" in message
    assert "secret" not in message
    assert "\n" not in message


def test_key_command_that_prints_nothing() -> None:
    provider = ProviderConfig(name="p", base_url="http://x", api_key_command="true")
    with pytest.raises(ConfigError, match="printed nothing"):
        resolve_api_key(provider)


def test_no_key_at_all() -> None:
    assert resolve_api_key(ProviderConfig(name="ollama", base_url="http://x")) is None


def test_missing_key_message_names_the_variable(cfg_path: Path) -> None:
    cfg = load_config(cfg_path)
    message = missing_key_message(cfg.provider("aimlapi"), cfg_path)
    assert message.startswith("no API key for provider 'aimlapi': set AIMLAPI_API_KEY")
    assert "api_key_command" in message and str(cfg_path) in message
    other = missing_key_message(ProviderConfig(name="x", base_url="http://x"), cfg_path)
    assert "api_key_env or api_key_command" in other


# ---- editing ----------------------------------------------------------------------------


def read(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("default_model", "gpt-4o", "gpt-4o"),
        ("stream", "false", False),
        ("stream", "on", True),
        ("params.temperature", "0.3", 0.3),
        ("params.temperature", "1", 1),
        ("params.max_tokens", "256", 256),
        ("params.stop", '["a","b"]', ["a", "b"]),
        ("params.stop", "END", ["END"]),
        ("providers.mistral.read_timeout", "90", 90),
        ("providers.openai.headers", '{"X-A": "1"}', {"X-A": "1"}),
        ("providers.openai.headers.X-B", "2", None),
        ("keys.quit", "ctrl+q", "ctrl+q"),
    ],
)
def test_set_parses_to_the_right_type(cfg_path: Path, key: str, raw: str, expected: object) -> None:
    set_config_value(cfg_path, key, raw)
    data = read(cfg_path)
    node = data
    for part in key.split("."):
        node = node[part]
    assert node == (raw if expected is None else expected)
    assert type(node) is type(raw if expected is None else expected)
    assert load_config(cfg_path).warnings == []


def test_set_keeps_other_values_and_is_private(tmp_path: Path) -> None:
    conf_dir = tmp_path / "new" / "dir"
    path = conf_dir / "config.toml"
    set_config_value(path, "providers.local.base_url", "http://127.0.0.1:9000/v1")
    if os.name == "posix":
        assert stat.S_IMODE(conf_dir.stat().st_mode) == 0o700
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text('theme = "nord"\n' + path.read_text() + "[params]\nseed = 1\n")
    path.chmod(0o644)
    set_config_value(path, "providers.local.default_model", "qwen")
    set_config_value(path, "default_model", "gpt-4o")
    data = read(path)
    assert data["theme"] == "nord"
    assert data["params"] == {"seed": 1}
    assert data["providers"]["local"] == {
        "base_url": "http://127.0.0.1:9000/v1",
        "default_model": "qwen",
    }
    assert data["default_model"] == "gpt-4o"
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]  # no temp file left


@pytest.mark.parametrize(
    ("key", "raw", "match"),
    [
        ("params.temprature", "1", r"unknown config key 'params.temprature' \(did you mean "
                                    r"params.temperature"),
        ("defualt_model", "x", "did you mean default_model"),
        ("params.max_tokens", "many", "params.max_tokens must be an integer"),
        ("stream", "maybe", "stream must be true or false"),
        ("providers.openai.kind", "claude", "openai"),
        ("providers.new.read_timeout", "5", r"providers\.new\.base_url is required"),
        ("params.stop", "[1,", "cannot parse"),
        # Values of the right type that every later command would trip over:
        ("default_provider", "nosuch", r"'nosuch' is not a provider .*providers\.nosuch"),
        ("params.temperature", "9", "params.temperature must be a number from 0 up to 2"),
        ("params.temperature", "-0.1", "from 0 up to 2"),
        ("params.top_p", "0", "params.top_p must be a number above 0 up to 1"),
        ("keys.bogus", "f1", r"keys\.bogus: unknown action"),
        ("keys.quit", "ctrl+nonsense+", "ends with"),
        ("keys.new_chat", "tab", "moves the focus"),
        ("theme", "no-such-theme", "theme 'no-such-theme' not found"),
        ("providers.local.base_url", "http://127.0.0.1:99999/v1", "valid host and port"),
        ("providers.local.base_url", "http://[::1", "valid host and port"),
        ("providers.local.base_url", "http://127.0.0.1:x/v1", "valid host and port"),
        ("providers.local.base_url", "http://bad host/v1", "valid host and port"),
        ("params.seed", "1.5", "params.seed must be an integer, not a fractional number"),
        ("providers.mistral.connect_timeout", "1e-300", "from 0.1 up to 86400"),
        ("keys.new_chat", "ctrl+q", r"was the key for quit.*give quit another key first"),
    ],
)
def test_set_rejects_bad_input_and_leaves_file(cfg_path: Path, key: str, raw: str,
                                               match: str) -> None:
    write(cfg_path, "# my notes\ntheme = \"nord\"\n")
    before = cfg_path.read_bytes()
    with pytest.raises(ConfigError, match=match):
        set_config_value(cfg_path, key, raw)
    assert cfg_path.read_bytes() == before


def test_key_notes_say_what_happened_without_parsing_text() -> None:
    from chatterm.keymap import KeyNote, resolve_key_notes

    keymap, notes = resolve_key_notes({"new_chat": "ctrl+q", "rename_chat": "ctrl+o",
                                       "bogus": "f1"})
    assert keymap["new_chat"] == "ctrl+q" and keymap["quit"] == ""
    by_action = {note.action: note for note in notes}
    assert by_action["bogus"].refused
    assert by_action["new_chat"] == KeyNote(
        "new_chat", "'ctrl+q' was the key for quit, which is now unbound",
        took_from="quit", left="")
    assert by_action["rename_chat"].took_from == "switch_model"
    assert not by_action["rename_chat"].refused
    assert str(by_action["new_chat"]) == (
        "[keys] new_chat: 'ctrl+q' was the key for quit, which is now unbound")


def test_set_on_broken_file_refuses(cfg_path: Path) -> None:
    write(cfg_path, "theme = \n")
    with pytest.raises(ConfigError, match="line 1"):
        set_config_value(cfg_path, "theme", "nord")
    assert cfg_path.read_text() == "theme = \n"


def test_save_api_key(cfg_path: Path) -> None:
    write(cfg_path, 'default_model = "o1"\n', mode=0o644)
    save_api_key(cfg_path, "aimlapi", " sk-abcdefghijkl1234 \n")
    data = read(cfg_path)
    assert data["providers"]["aimlapi"]["api_key"] == "sk-abcdefghijkl1234"
    assert data["default_model"] == "o1"
    if os.name == "posix":
        assert stat.S_IMODE(cfg_path.stat().st_mode) == 0o600
    cfg = load_config(cfg_path)
    assert cfg.warnings == []
    assert resolve_api_key(cfg.provider("aimlapi")) == "sk-abcdefghijkl1234"


def test_save_api_key_for_unknown_provider_refused(cfg_path: Path) -> None:
    with pytest.raises(ConfigError, match="base_url is required"):
        save_api_key(cfg_path, "nowhere", "sk-abcdefghijkl1234")
    assert not cfg_path.exists()


# ---- showing ----------------------------------------------------------------------------


def test_masked_config_hides_every_secret(cfg_path: Path) -> None:
    secret = "sk-live-0123456789abcdefXYZW"
    short = "abc123def456"  # 12 characters: at most 2 may show
    write(
        cfg_path,
        f"""
[providers.openai]
api_key = "{secret}"
api_key_command = "echo {secret}"

[providers.openai.headers]
Authorization = "Bearer {secret}"
"X-Api-Key" = "{secret}"
"X-Title" = "me"
"X-Org-Access" = "{secret}"

[providers.short]
base_url = "http://127.0.0.1:1/v1"
api_key = "{short}"
api_key_command = "pass show aimlapi --quiet"
""",
    )
    shown = masked_config(load_config(cfg_path))
    openai = shown["providers"]["openai"]
    assert openai["api_key"] == "…XYZW"
    assert openai["headers"]["Authorization"] == "Bearer …XYZW"
    assert openai["headers"]["X-Api-Key"] == "…XYZW"
    # A token header whose name says nothing about auth is masked too; public ones are not.
    assert openai["headers"]["X-Org-Access"] == "…XYZW"
    assert openai["headers"]["X-Title"] == "me"
    assert openai["api_key_command"] == "echo …"
    assert secret not in repr(shown) and "sk-" not in repr(shown)
    assert shown["providers"]["short"]["api_key"] == "…56"
    assert shown["providers"]["short"]["api_key_command"] == "pass show aimlapi --quiet"
    assert shown["providers"]["aimlapi"]["api_key_env"] == "AIMLAPI_API_KEY"
    assert shown["path"] == str(cfg_path)
    # The dict is ready to print as TOML: no None anywhere.
    import tomlkit

    tomlkit.dumps(shown)


@pytest.mark.parametrize("url", ["http://alice:S3cret@127.0.0.1:8080/v1",
                                 "https://token@api.example.com/v1"])
def test_credentials_in_base_url_are_refused_without_repeating_them(
        cfg_path: Path, url: str) -> None:
    write(cfg_path, f'[providers.proxy]\nbase_url = "{url}"\n')
    with pytest.raises(ConfigError, match="user:password@") as caught:
        load_config(cfg_path)
    assert "S3cret" not in caught.value.message and "token@" not in caught.value.message
    with pytest.raises(ConfigError, match="user:password@"):
        set_config_value(cfg_path, "providers.other.base_url", url)
    # An @ after the host (a query, a path) is no credential.
    write(cfg_path, '[providers.proxy]\nbase_url = "http://127.0.0.1:8080/v1/u@x"\n')
    assert load_config(cfg_path).providers["proxy"].base_url.endswith("/u@x")


def test_a_config_starting_with_a_byte_order_mark_is_read(cfg_path: Path) -> None:
    cfg_path.parent.mkdir(parents=True)
    cfg_path.write_bytes(b'\xef\xbb\xbfdefault_model = "m"\n')
    assert load_config(cfg_path).default_model == "m"
    set_config_value(cfg_path, "default_provider", "openai")
    assert load_config(cfg_path).default_provider == "openai"


def test_example_keys_are_valid_tui_keys() -> None:
    from chatterm import keymap as keys
    cfg = load_config(REPO_ROOT / "config.example.toml")
    _, problems = keys.resolve_keys(cfg.keys)
    assert problems == []
    assert set(cfg.keys) <= set(keys.ACTIONS_BY_NAME)


def test_set_accepts_what_later_commands_can_use(cfg_path: Path) -> None:
    set_config_value(cfg_path, "providers.local.base_url", "http://127.0.0.1:9/v1")
    set_config_value(cfg_path, "default_provider", "local")
    set_config_value(cfg_path, "theme", "chatterm-light")
    set_config_value(cfg_path, "theme", "gruvbox")  # one of Textual's own
    set_config_value(cfg_path, "keys.rename_chat", "f12")
    set_config_value(cfg_path, "params.temperature", "2")
    config = load_config(cfg_path)
    assert config.provider().name == "local"
    assert (config.theme, config.keys, config.params.temperature) == ("gruvbox",
                                                                      {"rename_chat": "f12"}, 2)


def test_set_knows_the_users_own_theme_files(cfg_path: Path) -> None:
    from chatterm.locations import user_themes_dir

    folder = user_themes_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mine.toml").write_text('name = "my-own"\nprimary = "#112233"\n')
    set_config_value(cfg_path, "theme", "my-own")
    assert load_config(cfg_path).theme == "my-own"


def test_loading_refuses_out_of_range_params(cfg_path: Path) -> None:
    write(cfg_path, "[params]\ntemperature = 9\n")
    with pytest.raises(ConfigError, match=r"params\.temperature must be a number from 0 up to 2"):
        load_config(cfg_path)


def test_the_core_knows_textuals_theme_names() -> None:
    theme = pytest.importorskip("textual.theme")
    from chatterm.theme_files import TEXTUAL_THEME_NAMES

    assert set(theme.BUILTIN_THEMES) == TEXTUAL_THEME_NAMES
