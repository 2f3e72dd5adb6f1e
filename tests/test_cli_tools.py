"""`chatterm tools` and tool calls in `chatterm ask`, run as real subprocesses: the
reference mcp-server-time and tests/mcp_servers/hostile.py over stdio, the model played
by the loopback server, approval answered on a real pseudo-terminal."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import signal
import subprocess
import sys
import termios
import threading
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
from chatterm_env import REPO_ROOT, run_cli, write_config
from loopback import LoopbackServer, Reply, sse_reply, tool_call_reply

from chatterm.toolbox import DECLINED_TEXT

pytestmark = pytest.mark.e2e

TIME_SERVER = str(Path(sys.executable).parent / "mcp-server-time")
HOSTILE_SERVER = str(REPO_ROOT / "tests" / "mcp_servers" / "hostile.py")
TOKYO = {"timezone": "Asia/Tokyo"}
QUESTION = 'Run time.get_current_time {"timezone": "Asia/Tokyo"}? [y]es/[n]o/[a]lways'

if not Path(TIME_SERVER).exists():  # the [dev] extra installs it
    pytest.skip(f"mcp-server-time is not installed ({TIME_SERVER})", allow_module_level=True)


def server_table(name: str, command: str, *args: str, extra: str = "") -> str:
    return (f"[mcp.servers.{name}]\ncommand = {json.dumps(command)}\n"
            f"args = {json.dumps(list(args))}\n{extra}\n")


TIME = server_table("time", TIME_SERVER, "--local-timezone", "UTC")
HOSTILE = server_table("hostile", sys.executable, HOSTILE_SERVER)


def configure(loopback: LoopbackServer, *tables: str) -> Path:
    return write_config(loopback.url, extra="".join(tables))


def calling(name: str, arguments: dict[str, Any], call_id: str = "call_1",
            text: str = "") -> Reply:
    """A streamed reply that ends asking for one tool call."""
    return tool_call_reply([(call_id, name, json.dumps(arguments))], content=text)


def tool_names(body: dict[str, Any]) -> list[str]:
    return sorted(tool["function"]["name"] for tool in body.get("tools", []))


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_detached(*args: str) -> subprocess.CompletedProcess[bytes]:
    """`chatterm ARGS` with no controlling terminal at all (as from cron or CI)."""
    return subprocess.run([sys.executable, "-m", "chatterm", *args], input=b"",
                          capture_output=True, env=cli_env(), timeout=90, cwd=REPO_ROOT,
                          start_new_session=True)


class Terminal:
    """`chatterm ARGS` on a pseudo-terminal that is its controlling terminal (/dev/tty)
    and its stdin and stderr; stdout is a pipe, so the reply is read apart."""

    def __init__(self, *args: str) -> None:
        main_fd, child_fd = pty.openpty()

        def own_terminal() -> None:
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "chatterm", *args], stdin=child_fd, stderr=child_fd,
            stdout=subprocess.PIPE, env=cli_env(), cwd=REPO_ROOT, preexec_fn=own_terminal)
        os.close(child_fd)
        self.fd = main_fd
        self.screen = b""
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # EIO once the child's side is closed
                return
            if not chunk:
                return
            with self._lock:
                self.screen += chunk

    def text(self) -> str:
        with self._lock:
            return self.screen.decode("utf-8", "replace")

    def wait_for(self, needle: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} never showed; the terminal:\n{self.text()}")
            time.sleep(0.05)

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        """(exit code, stdout, what the terminal showed)."""
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()
        code = self.proc.wait(timeout)
        self._reader.join(10)
        os.close(self.fd)
        return code, out.decode(), self.text()


def show(conversation: str | None = None) -> dict[str, Any]:
    if conversation is None:
        conversation = json.loads(run_cli("list", "--json").stdout)[0]["id"]
    shown = run_cli("show", conversation, "--json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


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
    log = Path(os.environ["CHATTERM_CACHE_DIR"]) / "mcp" / "broken.log"
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
    assert "[mcp.servers.NAME]" in line and str(path) in line and "README" in line
    as_json = run_cli("tools", "--json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout) == []


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
    log = Path(os.environ["CHATTERM_CACHE_DIR"]) / "mcp" / "broken.log"
    assert line == ("chatterm: MCP server 'broken' failed: the server stopped (exit code 3); "
                    f"going on without its tools (its stderr: {log})")
    assert "no config here" in log.read_text()
    assert tool_names(loopback.requests[0].json) == ["convert_time", "get_current_time"]


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
    configure(loopback, TIME, HOSTILE)
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
                                       "(configured: time, hostile)\n")
    assert len(loopback.requests) == 3


# ---- ask: approval ----------------------------------------------------------------------


def test_on_a_terminal_each_call_is_asked_and_always_is_saved(
        loopback: LoopbackServer) -> None:
    config = configure(loopback, TIME)
    loopback.script("chat/completions", [
        calling("get_current_time", TOKYO), sse_reply(["Morning."]),
        calling("get_current_time", TOKYO, "call_2"), sse_reply(["Still morning."]),
        calling("get_current_time", TOKYO, "call_3"), sse_reply(["Noon."])])
    terminal = Terminal("ask", "time in Tokyo?")
    terminal.wait_for(QUESTION)
    terminal.type(b"y\n")
    code, out, screen = terminal.finish()
    assert code == 0, screen
    assert out == "Morning.\n"
    assert json.loads(loopback.requests[1].json["messages"][-1]["content"])["timezone"] \
        == "Asia/Tokyo"

    terminal = Terminal("ask", "-c", "and now?")
    terminal.wait_for(QUESTION)
    terminal.type(b"a\n")
    code, out, screen = terminal.finish()
    assert code == 0, screen
    assert out == "Still morning.\n"
    saved = tomllib.loads(config.read_text())["mcp"]["servers"]["time"]
    assert saved["always_allow"] == ["get_current_time"]

    # Allowed always: the next call runs without a question.
    terminal = Terminal("ask", "-c", "later?")
    code, out, screen = terminal.finish()
    assert code == 0, screen
    assert out == "Noon.\n" and "[y]es/[n]o/[a]lways" not in screen
    assert "running time.get_current_time" in screen
    assert loopback.requests[5].json["messages"][-1]["role"] == "tool"


def test_no_on_the_terminal_declines_the_call(loopback: LoopbackServer) -> None:
    configure(loopback, TIME)
    loopback.script("chat/completions", [calling("get_current_time", TOKYO),
                                          sse_reply(["As you wish."])])
    terminal = Terminal("ask", "time in Tokyo?")
    terminal.wait_for(QUESTION)
    terminal.type(b"n\n")
    code, out, screen = terminal.finish()
    assert code == 0, screen
    assert out == "As you wish.\n" and "running" not in screen
    told = loopback.requests[1].json["messages"][-1]
    assert told == {"role": "tool", "tool_call_id": "call_1", "content": DECLINED_TEXT}


def test_without_a_terminal_calls_are_declined_and_stderr_says_yes_allows_them(
        loopback: LoopbackServer) -> None:
    configure(loopback, TIME)
    loopback.script("chat/completions", [calling("get_current_time", TOKYO),
                                          sse_reply(["I could not check."])])
    result = run_detached("ask", "time in Tokyo?")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"I could not check.\n"
    [line] = result.stderr.decode().splitlines()
    assert line == ("chatterm: declined time.get_current_time: no terminal to ask on "
                    "(--yes allows every tool call)")
    assert loopback.requests[1].json["messages"][-1]["content"] == DECLINED_TEXT
    tool = show()["messages"][2]
    assert (tool["role"], tool["finish_reason"]) == ("tool", "declined")


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


def test_ctrl_c_at_the_question_stops_and_keeps_what_happened(
        loopback: LoopbackServer) -> None:
    configure(loopback, TIME)
    loopback.script("chat/completions", calling("get_current_time", TOKYO))
    terminal = Terminal("ask", "time in Tokyo?")
    terminal.wait_for(QUESTION)
    terminal.type(b"\x03")
    code, _out, screen = terminal.finish()
    assert code == 130, screen
    assert screen.rstrip().endswith("chatterm: interrupted")
    saved = show()["messages"]
    assert [m["role"] for m in saved] == ["user", "assistant", "tool"]
    assert saved[1]["tool_calls"][0]["id"] == "call_1"
    assert saved[2]["finish_reason"] == "stopped"
    assert len(loopback.requests) == 1


def test_ctrl_c_while_a_tool_runs_stops_it_and_keeps_what_happened(
        loopback: LoopbackServer) -> None:
    configure(loopback, HOSTILE)
    loopback.script("chat/completions", calling("wait_forever", {}))
    child = subprocess.Popen([sys.executable, "-m", "chatterm", "ask", "--yes", "wait"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=cli_env(), cwd=REPO_ROOT,
                             start_new_session=True)
    assert child.stderr is not None
    line = child.stderr.readline()  # the call is under way once it says so
    assert line == b"chatterm: running hostile.wait_forever {}\n", line
    child.send_signal(signal.SIGINT)
    _out, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert err.decode().splitlines()[-1] == "chatterm: interrupted"
    saved = show()["messages"]
    assert [m["role"] for m in saved] == ["user", "assistant", "tool"]
    assert saved[2]["finish_reason"] == "stopped"
