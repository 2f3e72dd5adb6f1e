"""The [mcp] config: defaults, every key checked with one line naming it, the example."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chatterm.config import load_config
from chatterm.errors import ConfigError
from chatterm.mcp.config import McpConfig

REPO_ROOT = Path(__file__).resolve().parent.parent


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def test_no_mcp_table_gives_the_defaults_and_no_servers(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "c.toml", 'stream = true\n'))
    assert config.mcp == McpConfig()
    assert (config.mcp.max_tool_rounds, config.mcp.max_result_bytes,
            config.mcp.start_timeout, config.mcp.servers) == (10, 100_000, 20.0, ())


def test_servers_are_read_in_file_order_with_every_key(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "c.toml", '''
[mcp]
max_tool_rounds = 3
max_result_bytes = 5000
start_timeout = 7.5
[mcp.servers.time]
command = "mcp-server-time"
args = ["--local-timezone", "Europe/Paris"]
env = { TZ = "Europe/Paris" }
cwd = "~/projects"
approve = "auto"
timeout = 30
always_allow = ["get_current_time", "get_current_time"]
[mcp.servers.home]
command = "~/bin/my-server"
[mcp.servers.web-2]
url = "http://127.0.0.1:8000/mcp"
headers = { Authorization = "Bearer x" }
enabled = false
'''))
    mcp = config.mcp
    assert (mcp.max_tool_rounds, mcp.max_result_bytes, mcp.start_timeout) == (3, 5000, 7.5)
    assert [server.name for server in mcp.servers] == ["time", "home", "web-2"]
    time, home, web = mcp.servers
    assert home.command == str(Path.home() / "bin" / "my-server")  # no shell to expand it
    assert time.command == "mcp-server-time"
    assert time.args == ("--local-timezone", "Europe/Paris")
    assert time.env == (("TZ", "Europe/Paris"),)
    assert time.cwd == Path.home() / "projects"
    assert (time.approve, time.enabled, time.timeout) == ("auto", True, 30)
    assert time.always_allow == ("get_current_time",)
    assert time.transport == "stdio"
    assert (web.url, web.headers, web.enabled, web.approve) == (
        "http://127.0.0.1:8000/mcp", (("Authorization", "Bearer x"),), False, "ask")
    assert web.transport == "http"
    assert mcp.enabled_servers == (time, home)
    assert config.warnings == []


S = "[mcp.servers.time]\n"
C = S + 'command = "x"\n'
K = "mcp.servers.time"


@pytest.mark.parametrize(("text", "line"), [
    ("[mcp]\nmax_tool_rounds = 0", "mcp.max_tool_rounds must be an integer from 1 up to 1000"),
    ("[mcp]\nmax_tool_rounds = 2.5", "mcp.max_tool_rounds must be an integer, not a fractional"),
    ("[mcp]\nmax_result_bytes = 10", "mcp.max_result_bytes must be an integer from 1000"),
    ("[mcp]\nstart_timeout = 0", "mcp.start_timeout must be a number of seconds from 0.1"),
    ("[mcp]\nstart_timeout = nan", "mcp.start_timeout must be a finite number"),
    ("mcp = 3", "mcp must be a table, not an integer"),
    ("[mcp]\nservers = []", "mcp.servers must be a table, not a list"),
    ("[mcp.servers]\ntime = 1", f"{K} must be a table, not an integer"),
    ('[mcp.servers."a b"]\ncommand = "x"', "mcp.servers.a b: a server's name must be letters"),
    (S + "args = []", f"{K} needs exactly one of command (a program run over stdio) or url"),
    (C + 'url = "http://h/mcp"', "it has both command and url"),
    (S + 'command = ""', f"{K}.command must not be empty"),
    (S + 'command = ["x"]', f"{K}.command must be a string, not a list"),
    (C + 'args = "-v"', f"{K}.args must be a list of strings"),
    (C + "env = { A = 1 }", f"{K}.env must be a table of strings"),
    (C + 'env = { "A=B" = "1" }', f"{K}.env holds a name"),
    (C + 'approve = "never"', f'{K}.approve must be "ask" or "auto"'),
    (C + 'enabled = "yes"', f"{K}.enabled must be true or false"),
    (C + "timeout = -1", f"{K}.timeout must be a number of seconds"),
    (C + 'always_allow = "t"', f"{K}.always_allow must be a list of tool names"),
    (S + 'url = "ftp://h"', f"{K}.url must be an http:// or https:// URL"),
    (S + 'url = "http://h/mcp"\nheaders = { "A B" = "x" }', f"{K}.headers holds a name HTTP"),
    (C + 'headers = { A = "x" }', f"{K}.headers does not apply to a server with a command"),
    (S + 'url = "http://h/mcp"\nargs = ["x"]', f"{K}.args does not apply to a server with a url"),
])
def test_a_bad_value_is_one_line_naming_its_key(tmp_path: Path, text: str, line: str) -> None:
    path = write(tmp_path / "c.toml", text + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert line in message, message


def test_a_secret_in_a_bad_value_is_not_repeated(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '[mcp.servers.s]\nurl = "http://h/mcp"\n'
                 'headers = { Authorization = 12345 }\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "12345" not in str(caught.value)


def test_unknown_keys_are_warnings_with_a_suggestion(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "c.toml", '''
[mcp]
max_tool_round = 3
[mcp.servers.time]
command = "x"
timeot = 3
'''))
    assert len(config.warnings) == 2
    assert "unknown key 'mcp.max_tool_round' ignored (did you mean mcp.max_tool_rounds?)" \
        in config.warnings[0]
    assert "'mcp.servers.time.timeot' ignored (did you mean mcp.servers.time.timeout?)" \
        in config.warnings[1]


def test_the_example_documents_mcp_and_its_server_example_loads(tmp_path: Path) -> None:
    from chatterm.config.mcp_table import MCP_KEYS, SERVER_KEYS

    text = (REPO_ROOT / "config.example.toml").read_text(encoding="utf-8")
    assert load_config(REPO_ROOT / "config.example.toml").mcp.servers == ()
    for key in [*MCP_KEYS, *SERVER_KEYS]:
        assert re.search(rf"\n(# )?{key} =", text), key
    # Uncommented, the example's [mcp.servers.time] is a valid server.
    section = text[text.index("# [mcp.servers.time]"):text.index("# A server over streamable")]
    live = "\n".join(line[2:] for line in section.splitlines()
                     if line.startswith("# ") and ("=" in line or line.startswith("# [")))
    config = load_config(write(tmp_path / "c.toml", live))
    assert [server.name for server in config.mcp.servers] == ["time"]
    assert config.mcp.servers[0].always_allow == ("get_current_time",)
    assert config.warnings == []


def test_config_set_takes_the_mcp_keys_and_keeps_the_file(tmp_path: Path) -> None:
    from chatterm.config import set_config_value

    path = write(tmp_path / "c.toml", '# mine\n[mcp.servers.time]\ncommand = "mcp-server-time"'
                 '  # the reference\n')
    set_config_value(path, "mcp.max_tool_rounds", "4")
    set_config_value(path, "mcp.start_timeout", "2.5")
    set_config_value(path, "mcp.servers.time.approve", "auto")
    set_config_value(path, "mcp.servers.time.enabled", "no")
    set_config_value(path, "mcp.servers.web.url", "http://127.0.0.1:9/mcp")  # a new server
    config = load_config(path)
    assert (config.mcp.max_tool_rounds, config.mcp.start_timeout) == (4, 2.5)
    time, web = config.mcp.servers
    assert (time.approve, time.enabled, web.url) == ("auto", False, "http://127.0.0.1:9/mcp")
    text = path.read_text(encoding="utf-8")
    assert "# mine" in text and "# the reference" in text
    for key, value, line in [
            ("mcp.max_tool_rounds", "0", "mcp.max_tool_rounds must be an integer from 1"),
            ("mcp.servers.time.approve", "never", 'must be "ask" or "auto"'),
            ("mcp.servers.time.url", "http://h/mcp", "needs exactly one of command"),
            ("mcp.servers.time.timeot", "3", "did you mean mcp.servers.time.timeout")]:
        with pytest.raises(ConfigError) as caught:
            set_config_value(path, key, value)
        assert line in str(caught.value) and "\n" not in str(caught.value)
    assert path.read_text(encoding="utf-8") == text


@pytest.mark.e2e
def test_config_show_lists_the_servers_with_their_secrets_masked(isolated_env: Path) -> None:
    from chatterm_env import run_cli

    write(isolated_env / "config" / "config.toml", '''
[mcp.servers.gh]
command = "github-mcp"
env = { GITHUB_TOKEN = "ghp_supersecret1234567890" }
[mcp.servers.web]
url = "http://127.0.0.1:9/mcp"
headers = { Authorization = "Bearer tok-supersecret-0987654321", Accept = "application/json" }
''')
    shown = run_cli("config", "show")
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout.decode()
    assert "supersecret" not in text
    assert "github-mcp" in text and "GITHUB_TOKEN" in text and "http://127.0.0.1:9/mcp" in text
    assert "application/json" in text  # a public header stays readable
    # Every [mcp] setting is shown, with its value (ask_wait was missing from the view).
    from chatterm.config.mcp_table import MCP_KEYS

    for key in MCP_KEYS:
        assert key in text, key
