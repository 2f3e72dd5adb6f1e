"""needs_approval (auto / always_allow / ask) and "always" saved in the config file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from chatterm_env import run_cli
from mcp_helpers import running_host, spec_of, time_command, time_server

from chatterm.config import load_config
from chatterm.errors import ConfigError
from chatterm.mcp.config import McpConfig, McpServerConfig
from chatterm.mcp.host import McpHost
from chatterm.toolbox import ToolSpec

CONFIG = f'''# my tools, hand-written
[mcp.servers.time]
command = "{time_command()}"   # the reference server
approve = "ask"

[mcp.servers.robot]
command = "{time_command()}"
approve = "auto"   # trusted
'''


def spec(server: str, tool: str) -> ToolSpec:
    return ToolSpec(server=server, tool=tool, name=tool)


def write_config(tmp_path: Path, text: str = CONFIG) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


async def test_always_is_saved_in_the_config_keeping_its_comments(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    config = load_config(path)
    async with running_host(config.mcp.servers, tmp_path, config_path=path) as host:
        now = spec_of(host, "time", "get_current_time")
        convert = spec_of(host, "time", "convert_time")
        assert host.needs_approval(now) and host.needs_approval(convert)
        assert not host.needs_approval(spec_of(host, "robot", "get_current_time"))
        host.allow_always(now)
        assert not host.needs_approval(now) and host.needs_approval(convert)
        host.allow_always(convert)
        host.allow_always(convert)  # once is enough
    text = path.read_text(encoding="utf-8")
    assert "# my tools, hand-written" in text and "# the reference server" in text
    assert "# trusted" in text
    assert text.count("always_allow") == 1
    assert load_config(path).mcp.server("time").always_allow == (  # type: ignore[union-attr]
        "get_current_time", "convert_time")
    assert os.stat(path).st_mode & 0o077 == 0
    # The next launch does not ask either.
    again = McpHost(load_config(path).mcp, log_dir=tmp_path, config_path=path)
    assert not again.needs_approval(spec("time", "get_current_time"))
    assert again.needs_approval(spec("time", "some_other_tool"))


def test_needs_approval_follows_approve_and_always_allow(tmp_path: Path) -> None:
    config = McpConfig(servers=(
        McpServerConfig("ask", command="x", always_allow=("ok_tool",)),
        McpServerConfig("auto", command="x", approve="auto")))
    host = McpHost(config, log_dir=tmp_path)
    assert host.needs_approval(spec("ask", "other"))
    assert not host.needs_approval(spec("ask", "ok_tool"))
    assert not host.needs_approval(spec("auto", "anything"))
    assert host.needs_approval(spec("nobody", "x"))  # an unknown server is never trusted
    host.allow_always(spec("ask", "other"))  # no config file: this run only
    assert not host.needs_approval(spec("ask", "other"))


def test_a_file_that_cannot_be_saved_is_one_line_and_the_tool_stays_allowed(
        tmp_path: Path) -> None:
    path = write_config(tmp_path)
    host = McpHost(load_config(path).mcp, log_dir=tmp_path, config_path=path)
    path.write_text("[mcp.servers.time\nbroken", encoding="utf-8")  # edited meanwhile
    with pytest.raises(ConfigError) as caught:
        host.allow_always(spec("time", "get_current_time"))
    assert "\n" not in str(caught.value) and "invalid TOML" in str(caught.value)
    assert path.read_text(encoding="utf-8") == "[mcp.servers.time\nbroken"
    assert not host.needs_approval(spec("time", "get_current_time"))


def test_a_server_no_longer_in_the_file_is_refused_and_the_file_kept(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    host = McpHost(McpConfig(servers=(time_server("gone"),)), log_dir=tmp_path,
                   config_path=path)
    with pytest.raises(ConfigError):
        host.allow_always(spec("gone", "get_current_time"))
    assert path.read_text(encoding="utf-8") == CONFIG


@pytest.mark.e2e
def test_a_revoked_approval_asks_again_in_the_running_host(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """qa13 F9: taking a tool out of always_allow (config set or by hand), or setting
    approve back to "ask", reached only the next launch; the running app ran it unasked."""
    path = write_config(tmp_path)
    monkeypatch.setenv("CHATTERM_CONFIG", str(path))
    host = McpHost(load_config(path).mcp, log_dir=tmp_path, config_path=path)
    now, convert = spec("time", "get_current_time"), spec("time", "convert_time")
    host.allow_always(now)
    assert not host.needs_approval(now)

    revoked = run_cli("config", "set", "mcp.servers.time.always_allow", "[]")
    assert revoked.returncode == 0, revoked.stderr
    assert revoked.stdout.decode().startswith("set mcp.servers.time.always_allow = []")
    assert host.needs_approval(now)
    assert "# the reference server" in path.read_text(encoding="utf-8")

    given = run_cli("config", "set", "mcp.servers.time.always_allow", '["convert_time"]')
    assert given.returncode == 0, given.stderr
    assert host.needs_approval(now) and not host.needs_approval(convert)

    robot = spec("robot", "get_current_time")
    assert not host.needs_approval(robot)
    path.write_text(path.read_text(encoding="utf-8").replace(
        'approve = "auto"', 'approve = "ask"'), encoding="utf-8")  # by hand
    assert host.needs_approval(robot)

    bad = run_cli("config", "set", "mcp.servers.time.always_allow", "convert_time")
    assert bad.returncode == 2 and bad.stderr.decode().count("\n") == 1
    assert "a list of tool names" in bad.stderr.decode()

    path.write_text("[mcp.servers.time\nhalf edited", encoding="utf-8")
    assert host.needs_approval(convert)  # a file that does not load: everything asks
