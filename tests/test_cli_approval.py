"""Approving `chatterm ask`'s tool calls, as real subprocesses: y/n/a answered on a real
pseudo-terminal (its controlling terminal), --yes, no terminal at all, Ctrl+C at the
question or while a tool runs; mcp-server-time and tests/mcp_servers/hostile.py over stdio."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from chatterm_env import REPO_ROOT
from cli_tool_env import (
    HOSTILE,
    HOSTILE_SERVER,
    QUESTION,
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
)
from loopback import LoopbackServer, sse_reply, tool_call_reply

from chatterm.toolbox import DECLINED_TEXT

pytestmark = pytest.mark.e2e

if not Path(TIME_SERVER).exists():  # the [dev] extra installs it
    pytest.skip(f"mcp-server-time is not installed ({TIME_SERVER})", allow_module_level=True)


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


def test_a_result_that_comes_while_a_question_waits_moves_the_question_below_it(
        loopback: LoopbackServer) -> None:
    kit = server_table("kit", sys.executable, TOOLKIT_SERVER, extra='approve = "auto"')
    configure(loopback, TIME, kit)
    loopback.script("chat/completions", [
        tool_call_reply([("call_1", "get_current_time", json.dumps(TOKYO)),
                         ("call_2", "sleep", json.dumps({"seconds": 1}))]),
        sse_reply(["Both."])])
    terminal = Terminal("ask", "the time, after a nap")
    # The auto call starts first, then the question waits; nobody answers until the
    # nap's result is out, so it comes while the question is on screen.
    terminal.wait_for("slept 1")
    terminal.wait_for(QUESTION, after="slept 1")  # asked again below the result
    terminal.type(b"y\n")
    code, out, screen = terminal.finish()
    assert code == 0, screen
    assert out == "Both.\n"
    first = screen.index(QUESTION) + len(QUESTION)
    between = screen[first:screen.index("chatterm: kit.sleep returned:")]
    assert between.strip() == "" and "\n" in between  # the result did not land after it
    assert screen.count(QUESTION) == 2  # once, and once again below the result


def test_with_stderr_in_a_file_the_question_is_asked_on_the_terminal(
        loopback: LoopbackServer, tmp_path: Path) -> None:
    configure(loopback, TIME)
    loopback.script("chat/completions", [calling("get_current_time", TOKYO),
                                          sse_reply(["Morning."])])
    log = tmp_path / "err.log"
    terminal = Terminal("ask", "time in Tokyo?", stderr=log)
    terminal.wait_for(QUESTION)
    terminal.type(b"y\n")
    code, out, screen = terminal.finish()
    assert code == 0, log.read_text()
    assert out == "Morning.\n"
    assert "running time.get_current_time" in log.read_text()
    assert QUESTION not in log.read_text() and "running" not in screen


def test_a_piped_prompt_is_the_prompt_and_the_terminal_answers(
        loopback: LoopbackServer) -> None:
    configure(loopback, TIME)
    loopback.script("chat/completions", [calling("get_current_time", TOKYO),
                                          sse_reply(["As you wish."])])
    terminal = Terminal("ask", "Answer:", piped=b"y\n")
    terminal.wait_for(QUESTION)
    terminal.type(b"n\n")
    code, out, screen = terminal.finish()
    assert code == 0, screen
    assert out == "As you wish.\n"
    first, second = (request.json["messages"] for request in loopback.requests)
    assert first == [{"role": "user", "content": "Answer:\n\ny\n"}]
    assert second[-1]["content"] == DECLINED_TEXT


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


def test_an_auto_server_s_calls_run_without_a_terminal(loopback: LoopbackServer) -> None:
    auto = server_table("hostile", sys.executable, HOSTILE_SERVER, extra='approve = "auto"')
    configure(loopback, auto)
    loopback.script("chat/completions", [calling("shout", {"text": "hi"}),
                                          sse_reply(["Shouted."])])
    result = run_detached("ask", "shout")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"Shouted.\n"
    assert b"declined" not in result.stderr and b"running hostile.shout" in result.stderr
    assert loopback.requests[1].json["messages"][-1]["content"].endswith("hi")


def test_max_tool_rounds_stops_the_loop_with_a_line_and_exit_1(
        loopback: LoopbackServer) -> None:
    configure(loopback, "[mcp]\nmax_tool_rounds = 1\n", TIME)
    loopback.script("chat/completions", [calling("get_current_time", TOKYO),
                                          calling("get_current_time", TOKYO, "call_2")])
    result = run_detached("ask", "--yes", "time, twice")
    assert result.returncode == 1, result.stderr
    assert result.stderr.decode().splitlines()[-1] == (
        "chatterm: stopped after 1 tool round (max_tool_rounds in [mcp]): the last reply's "
        "tool calls were not run")
    assert len(loopback.requests) == 2


def test_a_huge_argument_is_cut_in_the_question_and_the_running_line_and_kept_whole(
        loopback: LoopbackServer) -> None:
    configure(loopback, TIME)
    huge = {"timezone": "A" * 120_000}
    loopback.script("chat/completions", [
        calling("get_current_time", huge), sse_reply(["No such zone."]),
        calling("get_current_time", huge, "call_2"), sse_reply(["Still none."])])
    whole = len("time.get_current_time " + json.dumps(huge))
    terminal = Terminal("ask", "huge?")
    terminal.wait_for("[y]es/[n]o/[a]lways")
    terminal.type(b"y\n")
    code, out, screen = terminal.finish()
    assert code == 0 and out == "No such zone.\n", screen[-2000:]
    [question] = [line for line in screen.splitlines() if "Run time.get_current_time" in line]
    assert question.startswith('Run time.get_current_time {"timezone": "AAA')
    assert f"… ({whole - 1000:,} more characters)? [y]es/[n]o/[a]lways" in question
    assert len(question) < 1100
    [running] = [line for line in screen.splitlines() if "running time." in line]
    assert running == ('chatterm: running time.get_current_time {"timezone": "'
                       + "A" * (200 - len('time.get_current_time {"timezone": "'))
                       + f"… ({whole - 200:,} more characters)")
    # The whole arguments are in the store and in --json.
    assert json.loads(show()["messages"][1]["tool_calls"][0]["arguments"]) == huge
    result = run_detached("ask", "--yes", "--json", "-c", "again")
    assert result.returncode == 0, result.stderr[-2000:]
    call = json.loads(result.stdout)["exchange"][0]
    assert json.loads(call["tool_calls"][0]["arguments"]) == huge
    assert max(len(line) for line in result.stderr.decode().splitlines()) < 300
