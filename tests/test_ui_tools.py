"""Tools in the app, end to end: the real McpHost running the reference mcp-server-time
over stdio, the loopback server playing a model that calls it, and the app's approval
dialog and tools panel driven by keys (ui/tools/).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from loopback import Hold, LoopbackServer, sse_reply, tool_call_reply
from mcp_helpers import toml_for, toolkit_server
from ui_helpers import (
    LOOP_KEY,
    LOOP_KEY_ENV,
    running,
    screen_text,
    terminal_output,
    wait_until,
    write_config,
)

from chatterm.conversation import Conversation, Role
from chatterm.store import Store
from chatterm.toolbox import DECLINED_TEXT, ServerState, ToolOutcome
from chatterm.ui.tools.approval import ApprovalDialog
from chatterm.ui.tools.panel import ToolsPanel

pytestmark = pytest.mark.slow

CHAT = "chat/completions"
REPO = Path(__file__).resolve().parent.parent
TIME_SERVER = Path(sys.executable).with_name("mcp-server-time")
TIME_TABLE = f"""
[mcp.servers.time]
# the reference server: keep this comment
command = "{TIME_SERVER}"
args = ["--local-timezone", "UTC"]
approve = "ask"
"""


@pytest.fixture
def server(loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> LoopbackServer:
    if not TIME_SERVER.exists():
        pytest.skip(f"{TIME_SERVER} is absent: pip install -e '.[dev]'")
    monkeypatch.setenv(LOOP_KEY_ENV, LOOP_KEY)
    return loopback


def configure(loopback: LoopbackServer, servers: str = TIME_TABLE) -> Path:
    path = Path(os.environ["CHATTERM_CONFIG"])
    write_config(path, loopback.url)
    with path.open("a", encoding="utf-8") as config:
        config.write(servers)
    return path


def saved(conversation_id: str) -> Conversation:
    with Store.open() as store:
        return store.get_conversation(conversation_id)


def asks_time(call_id: str = "call_1", zone: str = "Europe/Paris") -> Any:
    return tool_call_reply([(call_id, "get_current_time", json.dumps({"timezone": zone}))])


async def ready(app: Any, pilot: Any) -> None:
    await wait_until(pilot, lambda: [s.state for s in app.tools.statuses()]
                     == [ServerState.READY], timeout=30, what="mcp-server-time ready")


async def send(pilot: Any, text: str) -> None:
    pilot.app.chat.prompt.insert(text)
    await pilot.press("enter")


async def dialog(app: Any, pilot: Any) -> ApprovalDialog:
    await wait_until(pilot, lambda: isinstance(app.screen, ApprovalDialog),
                     what="the approval dialog")
    await pilot.pause()
    return app.screen  # type: ignore[no-any-return]


async def idle(pilot: Any) -> None:
    await wait_until(pilot, lambda: not pilot.app.chat.busy, timeout=20,
                     what="the reply to end")


def tool_messages(conversation: Conversation) -> list[Any]:
    return [m for m in conversation.messages if m.role is Role.TOOL]


async def test_allow_runs_the_real_tool_and_the_model_gets_its_result(
        server: LoopbackServer) -> None:
    configure(server)
    server.script(CHAT, [asks_time(), sse_reply(["It is ", "evening in Paris."])])
    async with running(size=(120, 40)) as (app, pilot):
        await ready(app, pilot)
        await send(pilot, "what time is it in Paris?")
        shown = await dialog(app, pilot)
        assert shown.request.spec.label == "time.get_current_time"
        assert "Run time.get_current_time?" in screen_text(app)
        await pilot.press("y")
        await idle(pilot)
        first, second = server.wait_for_requests(2)
        offered = [tool["function"]["name"] for tool in first.json["tools"]]
        assert "get_current_time" in offered and "convert_time" in offered
        sent = second.json["messages"][-1]
        assert sent["role"] == "tool" and sent["tool_call_id"] == "call_1"
        assert json.loads(sent["content"])["timezone"] == "Europe/Paris"
        conversation = saved(app.chat.conversation.id)
        (result,) = tool_messages(conversation)
        assert result.finish_reason == ToolOutcome.OK
        assert conversation.messages[-1].content == "It is evening in Paris."


async def test_always_saves_the_tool_in_the_config_and_asks_no_more(
        server: LoopbackServer) -> None:
    path = configure(server)
    server.script(CHAT, [asks_time(), sse_reply(["one"]),
                         asks_time("call_2", "Asia/Tokyo"), sse_reply(["two"])])
    async with running() as (app, pilot):
        await ready(app, pilot)
        await send(pilot, "time?")
        await dialog(app, pilot)
        await pilot.press("a")
        await idle(pilot)
        text = path.read_text(encoding="utf-8")
        assert "# the reference server: keep this comment" in text
        assert 'always_allow = ["get_current_time"]' in text
        # The panel says which tool runs unasked now.
        await app.run_action("show_tools")
        await wait_until(pilot, lambda: "get_current_time (always allowed)"
                         in screen_text(app), what="the panel's always mark")
        assert "convert_time (always allowed)" not in screen_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ToolsPanel),
                         what="the panel closed")
        await send(pilot, "and in Tokyo?")
        await wait_until(pilot, lambda: len(server.requests) == 4, timeout=20,
                         what="the second exchange, with no dialog")
        await idle(pilot)
        assert not isinstance(app.screen, ApprovalDialog)
        results = tool_messages(saved(app.chat.conversation.id))
        assert [m.finish_reason for m in results] == [ToolOutcome.OK, ToolOutcome.OK]
        assert json.loads(results[-1].content)["timezone"] == "Asia/Tokyo"


async def test_deny_sends_the_model_the_user_declined(server: LoopbackServer) -> None:
    configure(server)
    server.script(CHAT, [asks_time(), sse_reply(["Fine, no tools."])])
    async with running() as (app, pilot):
        await ready(app, pilot)
        await send(pilot, "time?")
        await dialog(app, pilot)
        await pilot.press("n")
        await idle(pilot)
        _, second = server.wait_for_requests(2)
        assert second.json["messages"][-1]["content"] == DECLINED_TEXT
        (result,) = tool_messages(saved(app.chat.conversation.id))
        assert result.finish_reason == ToolOutcome.DECLINED


async def test_edited_arguments_are_what_the_tool_ran_with_and_what_is_saved(
        server: LoopbackServer) -> None:
    configure(server)
    server.script(CHAT, [asks_time(), sse_reply(["Tokyo it is."])])
    async with running() as (app, pilot):
        await ready(app, pilot)
        await send(pilot, "time?")
        await dialog(app, pilot)
        await pilot.press("e", "f7", *'{"timezone": "Asia/Tokyo"}', "tab", "y")
        await idle(pilot)
        _, second = server.wait_for_requests(2)
        # The real server answered for the edited zone.
        assert json.loads(second.json["messages"][-1]["content"])["timezone"] == "Asia/Tokyo"
        calls = second.json["messages"][-2]["tool_calls"]
        assert json.loads(calls[0]["function"]["arguments"]) == {"timezone": "Asia/Tokyo"}
        conversation = saved(app.chat.conversation.id)
        asked = next(m for m in conversation.messages if m.tool_calls)
        assert json.loads(asked.tool_calls[0].arguments) == {"timezone": "Asia/Tokyo"}


async def test_parallel_calls_are_asked_one_dialog_at_a_time_in_order(
        server: LoopbackServer) -> None:
    configure(server)
    server.script(CHAT, [tool_call_reply([
        ("call_1", "get_current_time", '{"timezone": "UTC"}'),
        ("call_2", "get_current_time", '{"timezone": "Asia/Tokyo"}')]),
        sse_reply(["one of two"])])
    async with running() as (app, pilot):
        await ready(app, pilot)
        await send(pilot, "time twice?")
        first = await dialog(app, pilot)
        assert first.request.call_id == "call_1" and "UTC" in first.editor.text
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, ApprovalDialog)
                         and app.screen is not first, what="the second dialog")
        second = app.screen
        assert second.request.call_id == "call_2" and "Asia/Tokyo" in second.editor.text
        assert sum(isinstance(s, ApprovalDialog) for s in app.screen_stack) == 1
        await pilot.press("n")
        await idle(pilot)
        results = {m.tool_call_id: m.finish_reason
                   for m in tool_messages(saved(app.chat.conversation.id))}
        assert results == {"call_1": ToolOutcome.OK, "call_2": ToolOutcome.DECLINED}


async def test_escape_denies_and_stops_the_round(server: LoopbackServer) -> None:
    configure(server)
    server.script(CHAT, [tool_call_reply([
        ("call_1", "get_current_time", '{"timezone": "UTC"}'),
        ("call_2", "get_current_time", '{"timezone": "Asia/Tokyo"}')])])
    async with running() as (app, pilot):
        await ready(app, pilot)
        await send(pilot, "time?")
        await dialog(app, pilot)
        await pilot.press("escape")
        await idle(pilot)
        assert not any(isinstance(s, ApprovalDialog) for s in app.screen_stack)
        assert len(server.requests) == 1  # the model is not asked again
        results = tool_messages(saved(app.chat.conversation.id))
        assert len(results) == 2
        assert all(m.finish_reason in (ToolOutcome.DECLINED, ToolOutcome.STOPPED)
                   for m in results)


async def test_quitting_while_a_dialog_is_open_stops_the_call_and_closes_it(
        server: LoopbackServer) -> None:
    configure(server)
    server.script(CHAT, [asks_time()])
    async with running() as (app, pilot):
        await ready(app, pilot)
        await send(pilot, "time?")
        await dialog(app, pilot)
        conversation_id = app.chat.conversation.id
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: app.return_code is not None, timeout=20,
                         what="the app to quit")
    (result,) = tool_messages(saved(conversation_id))
    assert result.finish_reason == ToolOutcome.STOPPED


async def test_a_tool_switched_off_in_the_panel_is_not_offered_to_the_model(
        server: LoopbackServer) -> None:
    configure(server)
    server.script(CHAT, [sse_reply(["ok"]) for _ in range(4)])
    async with running(size=(120, 40)) as (app, pilot):
        await ready(app, pilot)
        await app.run_action("show_tools")
        await wait_until(pilot, lambda: isinstance(app.screen, ToolsPanel), what="the panel")
        panel = app.screen
        await wait_until(pilot, lambda: "get_current_time" in screen_text(app),
                         what="the tools listed")
        text = screen_text(app)
        assert "time · ready · 2 tools · asks first" in text
        # Down from the server's switch to its first tool, whichever that is.
        await pilot.press("down")
        assert panel.focused is not None and panel.focused.id == "tools-tool-0-0"
        label = panel.tool_switches["tools-tool-0-0"]
        await pilot.press("space")
        await wait_until(pilot, lambda: label in app.tools.filter_for(
            app.chat.conversation.id).off_tools, what="the switch")
        await pilot.press("escape")
        await send(pilot, "hi")
        await idle(pilot)
        (request,) = server.wait_for_requests(1)
        offered = {tool["function"]["name"] for tool in request.json["tools"]}
        tool = label.split(".", 1)[1]
        assert tool not in offered and offered  # the other tool is still offered
        # The whole server off: the next request offers no tools at all.
        await app.run_action("show_tools")
        await wait_until(pilot, lambda: isinstance(app.screen, ToolsPanel), what="the panel")
        await wait_until(pilot, lambda: getattr(app.screen.focused, "id", None)
                         == "tools-server-0", what="the server's switch focused")
        await pilot.press("space")
        await wait_until(pilot, lambda: "time" in app.tools.filter_for(
            app.chat.conversation.id).off_servers, what="the server switch")
        await pilot.press("escape")
        await send(pilot, "again")
        await idle(pilot)
        assert "tools" not in server.wait_for_requests(2)[1].json
        # Another chat has its own switches: every tool again.
        first = app.chat.conversation.id
        await pilot.press("ctrl+n")
        await send(pilot, "new chat")
        await idle(pilot)
        assert len(server.wait_for_requests(3)[2].json["tools"]) == 2
        # Back in the first chat (a new session for it), its switches hold.
        app.chat.open_saved(first)
        await wait_until(pilot, lambda: app.chat.conversation.id == first, what="chat one")
        await send(pilot, "back again")
        await idle(pilot)
        assert "tools" not in server.wait_for_requests(4)[3].json


@pytest.mark.parametrize("size", [(120, 40), (40, 15)])
async def test_the_panel_fits_and_scrolls_to_the_focused_switch(
        server: LoopbackServer, size: tuple[int, int]) -> None:
    configure(server, TIME_TABLE + "\n" + toml_for([toolkit_server("kit")]))
    async with running(size=size) as (app, pilot):
        await ready_or_failed(app, pilot)
        await app.run_action("show_tools")
        await wait_until(pilot, lambda: isinstance(app.screen, ToolsPanel), what="the panel")
        panel = app.screen
        await wait_until(pilot, lambda: "Esc closes" in screen_text(app), what="the keys")
        switches = len(panel.server_switches) + len(panel.tool_switches)
        assert switches > 10  # more than a 15-row terminal shows at once
        for _ in range(switches - 1):
            await pilot.press("down")
        await pilot.pause()
        last = panel.focused
        assert last is not None and last.id == list(panel.tool_switches)[-1]
        text = screen_text(app)
        name = panel.tool_switches[last.id].split(".", 1)[1]
        assert f"{name}:" in text or name in text  # scrolled into view
        assert "Esc closes" in text and max(len(line) for line in text.splitlines()) <= size[0]


async def test_a_server_that_fails_is_a_notification_naming_it(server: LoopbackServer,
                                                               tmp_path: Path) -> None:
    missing = tmp_path / "no-such-server"
    configure(server, TIME_TABLE + f'\n[mcp.servers.broken]\ncommand = "{missing}"\n'
                      '\n[mcp.servers.off]\ncommand = "x"\nenabled = false\n')
    async with running(size=(120, 40)) as (app, pilot):
        await wait_until(pilot, lambda: any("MCP server broken" in str(n.message)
                                            for n in app._notifications), timeout=30,
                         what="the failure notification")
        await ready_or_failed(app, pilot)
        await app.run_action("show_tools")
        await wait_until(pilot, lambda: "broken · failed" in screen_text(app),
                         what="the failed server in the panel")
        text = screen_text(app)
        assert "time · ready" in text and "off · disabled in the config" in text
        assert str(missing) in text.replace("\n", "")  # why, whole (wrapped if need be)


async def test_a_server_that_dies_mid_call_is_a_notification_and_the_chat_goes_on(
        server: LoopbackServer) -> None:
    configure(server, "\n" + toml_for([toolkit_server("kit", approve="auto")]))
    server.script(CHAT, [tool_call_reply([("call_1", "crash", '{"code": 3}')]),
                         sse_reply(["The tool crashed."]), sse_reply(["still here"])])
    async with running(size=(120, 40)) as (app, pilot):
        await ready(app, pilot)
        await send(pilot, "crash it")
        await wait_until(pilot, lambda: any("MCP server kit" in str(n.message)
                                            for n in app._notifications), timeout=30,
                         what="the notification naming the server")
        await idle(pilot)
        _, second = server.wait_for_requests(2)
        assert "exit code 3" in second.json["messages"][-1]["content"]
        await send(pilot, "and now?")
        await idle(pilot)
        assert saved(app.chat.conversation.id).messages[-1].content == "still here"


async def test_a_hostile_server_s_descriptions_and_arguments_reach_the_screen_inert(
        server: LoopbackServer) -> None:
    hostile = REPO / "tests" / "mcp_servers" / "hostile.py"
    configure(server, f'\n[mcp.servers.evil]\ncommand = "{sys.executable}"\n'
                      f'args = ["{hostile}"]\n')
    server.script(CHAT, [tool_call_reply([("call_1", "shout", json.dumps(
        {"text": "\x1b]52;c;cHduZWQ=\x07\u202egnp.exe"}))])])
    async with running(size=(120, 40)) as (app, pilot):
        await ready(app, pilot)
        await app.run_action("show_tools")
        await wait_until(pilot, lambda: "shout: Returns text full of escape sequences"
                         in screen_text(app), what="the hostile tool in the panel")
        drawn = terminal_output(app)
        assert "\x1b]52" not in drawn and "\x1b[2J" not in drawn and "\x9b" not in drawn
        await pilot.press("escape")
        await send(pilot, "shout")
        shown = await dialog(app, pilot)
        drawn = terminal_output(app)
        assert "\x1b]52" not in drawn and "\x07" not in drawn and "\u202e" not in drawn
        # The editor holds the JSON escapes: the same value, nothing raw.
        assert json.loads(shown.editor.text)["text"] == "\x1b]52;c;cHduZWQ=\x07\u202egnp.exe"
        assert "\\u001b]52" in shown.editor.text
        await pilot.press("n")
        await idle(pilot)


async def ready_or_failed(app: Any, pilot: Any) -> None:
    await wait_until(pilot, lambda: all(s.state in (ServerState.READY, ServerState.FAILED,
                                                    ServerState.DISABLED)
                                        for s in app.tools.statuses()), timeout=30,
                     what="every server settled")


async def test_a_dialog_for_a_chat_left_streaming_names_that_chat(
        server: LoopbackServer) -> None:
    configure(server)
    go = threading.Event()
    held = asks_time()
    held.before = [Hold(go)]  # the model answers once the chat has been left
    server.script(CHAT, [held, sse_reply(["done"])])
    async with running(size=(120, 40)) as (app, pilot):
        await ready(app, pilot)
        await send(pilot, "what time is it?")
        await wait_until(pilot, lambda: len(server.requests) == 1, what="the request")
        await pilot.press("ctrl+n")  # a new chat; the reply goes on in the background
        await wait_until(pilot, lambda: not app.chat.conversation.messages,
                         what="the new chat")
        go.set()
        shown = await dialog(app, pilot)
        assert "chat: what time is it?" in screen_text(app)
        assert shown.request.spec.label == "time.get_current_time"
        await pilot.press("y")
        await wait_until(pilot, lambda: len(server.requests) == 2, timeout=20,
                         what="the model asked again")


# Answers MCP's handshake only once GO exists: a server that is slow to start.
GATED = textwrap.dedent("""
    import json, os, sys, time
    for line in sys.stdin:
        message = json.loads(line)
        if message.get("method") == "initialize":
            while not os.path.exists(sys.argv[1]):
                time.sleep(0.02)
            result = {"protocolVersion": message["params"]["protocolVersion"],
                      "capabilities": {"tools": {}},
                      "serverInfo": {"name": "slow", "version": "1"}}
        elif message.get("method") == "tools/list":
            result = {"tools": [{"name": "ping", "description": "Answers pong",
                                 "inputSchema": {"type": "object"}}]}
        elif "id" in message:
            result = {}
        else:
            continue
        print(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}),
              flush=True)
""")


async def test_the_panel_shows_a_slow_server_starting_then_its_tools(
        server: LoopbackServer, tmp_path: Path) -> None:
    script, go = tmp_path / "slow.py", tmp_path / "go"
    script.write_text(GATED, encoding="utf-8")
    configure(server, f'\n[mcp.servers.slow]\ncommand = "{sys.executable}"\n'
                      f'args = ["{script}", "{go}"]\n')
    async with running(size=(120, 40)) as (app, pilot):
        await app.run_action("show_tools")
        await wait_until(pilot, lambda: "slow · starting…" in screen_text(app),
                         what="the server starting")
        go.write_text("")
        # The open panel redraws: the same panel, now with the tool.
        await wait_until(pilot, lambda: "ping: Answers pong" in screen_text(app),
                         timeout=30, what="the tool once the server is ready")
        assert isinstance(app.screen, ToolsPanel)
        assert "slow · ready · 1 tool · asks first" in screen_text(app)


# A server that speaks just enough MCP over stdio, then ignores its stdin closing and
# SIGTERM: only a kill stops it.
STUBBORN = textwrap.dedent("""
    import json, signal, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print(__import__("os").getpid(), file=open(sys.argv[1], "w"), flush=True)
    for line in sys.stdin:
        message = json.loads(line)
        if message.get("method") == "initialize":
            result = {"protocolVersion": message["params"]["protocolVersion"],
                      "capabilities": {"tools": {}},
                      "serverInfo": {"name": "stubborn", "version": "1"}}
        elif message.get("method") == "tools/list":
            result = {"tools": []}
        elif "id" in message:
            result = {}
        else:
            continue
        print(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}),
              flush=True)
    while True:
        time.sleep(1)
""")


async def test_quitting_never_hangs_on_a_server_that_ignores_stdin_closing(
        server: LoopbackServer, tmp_path: Path) -> None:
    script, pid_file = tmp_path / "stubborn.py", tmp_path / "stubborn.pid"
    script.write_text(STUBBORN, encoding="utf-8")
    configure(server, f'\n[mcp.servers.stubborn]\ncommand = "{sys.executable}"\n'
                      f'args = ["{script}", "{pid_file}"]\n')
    async with running() as (app, pilot):
        await wait_until(pilot, lambda: [s.state for s in app.tools.statuses()]
                         == [ServerState.READY], timeout=30, what="the stubborn server")
        pid = int(pid_file.read_text().strip())
        started = time.monotonic()
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: app.return_code is not None, timeout=20,
                         what="the app to quit")
        took = time.monotonic() - started
    assert took < 15, f"quitting took {took:.1f} s"
    deadline = time.monotonic() + 10
    while _alive(pid):
        assert time.monotonic() < deadline, "the stubborn server outlived the app"
        time.sleep(0.05)


async def test_quitting_while_a_server_is_still_starting_is_quick(
        server: LoopbackServer, tmp_path: Path) -> None:
    script, go = tmp_path / "slow.py", tmp_path / "never"
    script.write_text(GATED, encoding="utf-8")
    configure(server, f'\n[mcp.servers.slow]\ncommand = "{sys.executable}"\n'
                      f'args = ["{script}", "{go}"]\n')
    async with running() as (app, pilot):
        await wait_until(pilot, lambda: app.tools.host is not None, what="the host")
        await wait_until(pilot, lambda: _children_running(script), timeout=20,
                         what="the server process")
        started = time.monotonic()
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: app.return_code is not None, timeout=20,
                         what="the app to quit")
        took = time.monotonic() - started
    # Before: 5 s (the host waited out CLOSE_TIMEOUT on a start, then killed).
    assert took < 3, f"quitting took {took:.1f} s"
    deadline = time.monotonic() + 10
    while _children_running(script):
        assert time.monotonic() < deadline, "the starting server outlived the app"
        time.sleep(0.05)


def _children_running(script: Path) -> bool:
    for stat in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(script) in stat.read_bytes().decode(errors="replace"):
                return _alive(int(stat.parent.name))
        except OSError:
            continue
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes (its parent, the host, reaps it later).
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split(") ")[-1].startswith("Z"))


PROBE = textwrap.dedent("""
    import asyncio, sys
    sys.path.insert(0, "tests")
    from ui_helpers import running, wait_until
    from chatterm.ui.app import ChattermApp
    seen = {}
    warm_up = ChattermApp._warm_up
    def spy(self):
        seen["first frame"] = "mcp" in sys.modules
        seen["host before"] = self.tools.host is not None
        warm_up(self)
        seen["host after"] = self.tools.host is not None
    ChattermApp._warm_up = spy
    async def main():
        async with running() as (app, pilot):
            await wait_until(pilot, lambda: "host after" in seen, timeout=30)
            if seen["host after"]:  # the host imports the SDK on its thread
                await wait_until(pilot, lambda: "mcp" in sys.modules, timeout=30)
        seen["at exit"] = "mcp" in sys.modules
    asyncio.run(main())
    print("SEEN", seen)
""")


@pytest.mark.e2e
@pytest.mark.parametrize("servers", [True, False])
def test_the_launch_does_not_import_mcp_the_host_does_after_the_first_frame(
        server: LoopbackServer, servers: bool) -> None:
    configure(server, TIME_TABLE if servers else "")
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-2000:]
    # Without servers the SDK is never imported: no host is made at all.
    expected = {"first frame": False, "host before": False, "host after": servers,
                "at exit": servers}
    assert f"SEEN {expected}" in done.stdout, done.stdout + done.stderr[-2000:]
