"""`chatterm tools` and the tools `chatterm ask` offers and shows, run as real subprocesses:
the reference mcp-server-time and tests/mcp_servers/hostile.py over stdio, the model played
by the loopback server (approval: test_cli_approval.py)."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from chatterm_env import REPO_ROOT, run_cli
from cli_tool_env import (
    HOSTILE,
    TIME,
    TIME_SERVER,
    TOKYO,
    TOOLKIT_SERVER,
    Terminal,
    calling,
    cli_env,
    configure,
    run_detached,
    server_table,
    show,
    tool_names,
)
from loopback import LoopbackServer, sse_reply

pytestmark = pytest.mark.e2e

if not Path(TIME_SERVER).exists():  # the [dev] extra installs it
    pytest.skip(f"mcp-server-time is not installed ({TIME_SERVER})", allow_module_level=True)


# ---- chatterm tools ------------------------------------------------------------------


def test_tools_lists_each_server_its_state_and_tools(loopback: LoopbackServer) -> None:
    broken = server_table("broken", sys.executable, "-c", "import sys; sys.exit(3)")
    off = server_table("off", TIME_SERVER, extra="enabled = false")
    configure(loopback, TIME, broken, off)
    listing = run_cli("tools")
    assert listing.returncode == 1, listing.stderr  # a server failed
    lines = listing.stdout.decode().splitlines()
    assert lines[0] == "time: ready, 2 tools (stdio, asks before each call)"
    assert [line.split()[0] for line in lines[1:3]] == ["get_current_time", "convert_time"]
    assert all(line.startswith("  ") and len(line.split()) > 1 for line in lines[1:3])
    log = Path(os.environ["CHATTERM_CACHE_DIR"]) / "mcp-logs" / "broken.log"
    assert lines[3] == f"broken: failed: the server stopped (exit code 3) (its stderr: {log})"
    assert len(lines) == 5
    assert lines[4] == "off: disabled (enabled = false)"

    as_json = run_cli("tools", "--json")
    assert as_json.returncode == 1
    servers = json.loads(as_json.stdout)
    assert [(s["name"], s["state"]) for s in servers] == [
        ("time", "ready"), ("broken", "failed"), ("off", "disabled")]
    assert servers[0]["error"] is None and servers[1]["error"]
    assert [t["name"] for t in servers[0]["tools"]] == ["get_current_time", "convert_time"]
    assert all(t["description"] for t in servers[0]["tools"])
    assert servers[1]["tools"] == [] and servers[2]["tools"] == []


def test_tools_without_servers_says_how_to_configure_one(loopback: LoopbackServer) -> None:
    path = configure(loopback)
    listing = run_cli("tools")
    assert listing.returncode == 0, listing.stderr
    [line] = listing.stdout.decode().splitlines()
    assert "[mcp.servers.NAME]" in line and str(path) in line
    # The section it names is a real heading of the README, the one about configuring.
    [section] = re.findall(r'the README\'s section "([^"]+)"', line)
    headings = [h.lstrip("#").strip() for h in
                (REPO_ROOT / "README.md").read_text().splitlines() if h.startswith("#")]
    assert section in headings
    assert section == "MCP tool servers"
    as_json = run_cli("tools", "--json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout) == []
    assert as_json.stderr.decode() == f"chatterm: {line}\n"
    limited = run_cli("ask", "--tool", "time", "hi")
    assert limited.returncode == 2 and limited.stderr.decode() == (
        f"chatterm: error: --tool 'time': {line}\n")


def test_tools_neutralises_a_hostile_description_on_a_terminal(
        loopback: LoopbackServer) -> None:
    configure(loopback, HOSTILE)
    main_fd, child_fd = pty.openpty()
    proc = subprocess.run([sys.executable, "-m", "chatterm", "tools"], stdout=child_fd,
                          stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=cli_env(),
                          timeout=90, cwd=REPO_ROOT, start_new_session=True)
    os.close(child_fd)
    shown = b""
    while True:
        try:
            chunk = os.read(main_fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(main_fd)
    assert proc.returncode == 0, proc.stderr
    assert b"escape sequences" in shown and b"\x1b" not in shown


# ---- ask: which tools are offered -----------------------------------------------------


def test_ask_runs_an_enabled_server_s_tool_and_prints_only_the_answer(
        loopback: LoopbackServer) -> None:
    configure(loopback, TIME)
    loopback.script("chat/completions", [
        calling("get_current_time", TOKYO, text="Let me look."),
        sse_reply(["It is morning in Tokyo."])])
    result = run_detached("ask", "--yes", "time in Tokyo?")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"Let me look.\nIt is morning in Tokyo.\n"
    err = result.stderr.decode()
    assert 'chatterm: running time.get_current_time {"timezone": "Asia/Tokyo"}\n' in err
    assert "chatterm: time.get_current_time returned:\n" in err and "Asia/Tokyo" in err
    first, second = (request.json for request in loopback.requests)
    assert tool_names(first) == ["convert_time", "get_current_time"]
    tool_message = second["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["tool_call_id"] == "call_1"
    assert json.loads(tool_message["content"])["timezone"] == "Asia/Tokyo"
    saved = show()["messages"]
    assert [m["role"] for m in saved] == ["user", "assistant", "tool", "assistant"]


def test_a_server_that_fails_is_one_line_and_the_others_go_on(
        loopback: LoopbackServer) -> None:
    broken = server_table("broken", sys.executable, "-c",
                          "import sys; print('no config here', file=sys.stderr); sys.exit(3)")
    configure(loopback, broken, TIME)
    loopback.script("chat/completions", sse_reply(["fine"]))
    result = run_detached("ask", "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"fine\n"
    [line] = result.stderr.decode().splitlines()
    log = Path(os.environ["CHATTERM_CACHE_DIR"]) / "mcp-logs" / "broken.log"
    assert line == ("chatterm: MCP server 'broken' failed: the server stopped (exit code 3); "
                    f"going on without its tools (its stderr: {log})")
    assert "no config here" in log.read_text()
    # The app's log dir (locations.mcp_log_dir), private as the README says (0700, 0600).
    assert log.parent.stat().st_mode & 0o777 == 0o700
    assert log.stat().st_mode & 0o777 == 0o600
    assert tool_names(loopback.requests[0].json) == ["convert_time", "get_current_time"]


def test_a_streamable_http_server_is_listed_and_its_tools_run(
        loopback: LoopbackServer) -> None:
    from mcp_helpers import http_toolkit

    with http_toolkit("web") as web:
        configure(loopback, f'[mcp.servers.web]\nurl = "{web.url}"\napprove = "auto"\n')
        listing = run_cli("tools")
        assert listing.returncode == 0, listing.stderr
        assert listing.stdout.decode().startswith("web: ready, ")
        assert "(http, runs calls unasked)" in listing.stdout.decode().splitlines()[0]
        loopback.script("chat/completions", [calling("echo", {"text": "over http"}),
                                              sse_reply(["Echoed."])])
        result = run_detached("ask", "echo it")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"Echoed.\n"
    assert loopback.requests[1].json["messages"][-1]["content"] == "over http"


def test_no_tools_sends_no_tools_and_starts_no_server(loopback: LoopbackServer) -> None:
    configure(loopback, TIME)
    loopback.script("chat/completions", sse_reply(["plain"]))
    probe = (
        "import sys\n"
        "from chatterm.cli.main import main\n"
        "code = main(['ask', '--no-tools', 'hi'])\n"
        "sys.stderr.write('MCP=' + ','.join(m for m in sys.modules if m.split('.')[0] == "
        "'mcp' or m == 'chatterm.mcp.host') + '\\n')\n"
        "sys.exit(code)\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True,
                            env=cli_env(), timeout=60, cwd=REPO_ROOT, start_new_session=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"plain\n" and b"MCP=\n" in result.stderr
    assert "tools" not in loopback.requests[0].json


def test_tool_limits_the_tools_to_the_servers_it_names(loopback: LoopbackServer) -> None:
    # A disabled copy of the time server: were it started, its tools would clash with
    # time's and be offered as off__get_current_time.
    off = server_table("off", TIME_SERVER, extra="enabled = false")
    configure(loopback, TIME, HOSTILE, off)
    loopback.script("chat/completions", [sse_reply(["one"]), sse_reply(["two"]),
                                          sse_reply(["three"])])
    assert run_detached("ask", "--tool", "hostile", "hi").returncode == 0
    assert run_detached("ask", "--tool", "time", "--tool", "hostile", "hi").returncode == 0
    assert run_detached("ask", "hi").returncode == 0
    offered = [tool_names(request.json) for request in loopback.requests]
    both = ["convert_time", "get_current_time", "shout", "wait_forever"]
    assert offered == [["shout", "wait_forever"], both, both]

    unknown = run_detached("ask", "--tool", "tiem", "hi")
    assert unknown.returncode == 2 and unknown.stdout == b""
    assert unknown.stderr.decode() == ("chatterm: error: --tool 'tiem': no such MCP server "
                                       "(configured: time, hostile, off)\n")
    disabled = run_detached("ask", "--tool", "off", "hi")
    assert disabled.returncode == 2 and disabled.stderr.decode().startswith(
        "chatterm: error: --tool 'off': that server is switched off (enabled = false in ")
    comparing = run_detached("ask", "--tool", "time", "-m", "a", "-m", "b", "hi")
    assert comparing.returncode == 2 and comparing.stderr.decode() == (
        "chatterm: error: --tool cannot be used when comparing models (two or more -m): a "
        "compare offers no tools\n")
    assert len(loopback.requests) == 3


# ---- ask: what is shown -----------------------------------------------------------------


def test_a_hostile_tool_result_never_reaches_the_terminal(loopback: LoopbackServer) -> None:
    configure(loopback, HOSTILE)
    loopback.script("chat/completions", [calling("shout", {"text": "\x1b[31mred"}),
                                          sse_reply(["Done."])])
    terminal = Terminal("ask", "--yes", "shout")
    code, out, screen = terminal.finish()
    assert code == 0, screen
    assert out == "Done.\n"
    assert "before" in screen and "after" in screen and "second line" in screen
    assert "running hostile.shout" in screen
    assert "\x1b" not in screen and "\x9b" not in screen and "\x07" not in screen
    # The model and the store get the result exactly.
    sent = loopback.requests[1].json["messages"][-1]["content"]
    assert sent.startswith("before\x1b]52;c;cHduZWQ=\x07\x1b[2J") and sent.endswith("red")


def test_a_long_result_shows_its_first_lines_and_an_error_one_line(
        loopback: LoopbackServer) -> None:
    kit = server_table("kit", sys.executable, str(REPO_ROOT / "tests" / "mcp_servers" /
                                                  "toolkit.py"))
    configure(loopback, kit)
    loopback.script("chat/completions", [
        calling("huge", {"size": 370}), calling("fail", {"message": "no"}, "call_2"),
        sse_reply(["Both done."])])
    result = run_detached("ask", "--yes", "go")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"Both done.\n"
    lines = result.stderr.decode().splitlines()
    at = lines.index("chatterm: kit.huge returned:")
    assert lines[at + 1:at + 8] == ["  0123456789abcdefghijklmnopqrstuvwxyz"] * 6 + [
        "  … (4 more lines)"]
    [failed] = [line for line in lines if line.startswith("chatterm: kit.fail failed: ")]
    assert lines[lines.index(failed) + 1:] == []  # the error once, not again as a result
    results = [m for m in loopback.requests[2].json["messages"] if m["role"] == "tool"]
    assert len(results[0]["content"]) == 370  # the model gets all of it


def test_json_holds_every_step_of_the_exchange(loopback: LoopbackServer) -> None:
    configure(loopback, TIME)
    loopback.script("chat/completions", [calling("get_current_time", TOKYO),
                                          sse_reply(["Morning."])])
    result = run_detached("ask", "--yes", "--json", "time in Tokyo?")
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert reply["content"] == "Morning." and reply["role"] == "assistant"
    steps = reply["exchange"]
    assert [step["role"] for step in steps] == ["assistant", "tool", "assistant"]
    call, tool, answer = steps
    assert call["tool_calls"] == [{"id": "call_1", "name": "get_current_time",
                                   "arguments": json.dumps(TOKYO)}]
    assert (tool["tool_call_id"], tool["provider"], tool["model"], tool["finish_reason"]) \
        == ("call_1", "time", "get_current_time", "ok")
    assert json.loads(tool["content"])["timezone"] == "Asia/Tokyo"
    assert answer["id"] == reply["id"] and tool["parent_id"] == call["id"]
    assert answer["parent_id"] == tool["id"]
    assert result.stderr == b""


def test_a_server_hanging_at_start_never_holds_a_prompt_back(
        loopback: LoopbackServer, tmp_path: Path) -> None:
    """Issue 13: a slow server never delays a prompt that needs no tool (qa13 F12: one
    hanging at start held every `ask` for start_timeout). The request goes after ask_wait
    with the tools of the servers that are up, while `hang` is still starting: its
    start_timeout (120 s) is far from over when the answer is printed."""
    hang = server_table("hang", sys.executable, TOOLKIT_SERVER, "--hang-at-start")
    configure(loopback, "[mcp]\nstart_timeout = 120\nask_wait = 2\n", hang)
    loopback.script("chat/completions", sse_reply(["Just talking."]))
    err = tmp_path / "stderr"
    proc = subprocess.Popen([sys.executable, "-m", "chatterm", "ask", "just talk"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=err.open("wb"), env=cli_env(), cwd=REPO_ROOT,
                            start_new_session=True)
    out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0, err.read_text()
    assert out == b"Just talking.\n"
    assert err.read_text().splitlines() == [
        "chatterm: MCP server 'hang' still starting after 2 s (ask_wait in [mcp]): the "
        "prompt goes without its tools, which join later tool rounds once ready; "
        "--no-tools skips the servers, --tool SERVER picks some"]
    # Sent without waiting for it: no tool was offered (no server was up).
    assert len(loopback.requests) == 1 and "tools" not in loopback.requests[0].json


def test_tools_waits_for_a_slow_server_and_says_so_at_once(
        loopback: LoopbackServer, tmp_path: Path) -> None:
    """`chatterm tools` reports every server's state, so it does wait (up to
    start_timeout), and names the server it waits for once the wait is long."""
    hang = server_table("hang", sys.executable, TOOLKIT_SERVER, "--hang-at-start")
    configure(loopback, "[mcp]\nstart_timeout = 10\n", hang)
    err = tmp_path / "stderr"
    proc = subprocess.Popen([sys.executable, "-m", "chatterm", "tools"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=err.open("wb"), env=cli_env(), cwd=REPO_ROOT,
                            start_new_session=True)
    waiting = ("chatterm: waiting for MCP server 'hang' to start (at most 10 s, "
               "start_timeout in [mcp])")
    deadline = time.monotonic() + 60
    while waiting not in err.read_text() and proc.poll() is None:
        assert time.monotonic() < deadline, err.read_text()
        time.sleep(0.05)
    shown_while_waiting = proc.poll() is None
    out, _ = proc.communicate(timeout=90)
    assert shown_while_waiting, err.read_text()
    assert proc.returncode == 1
    assert "did not start within 10 s" in out.decode()
