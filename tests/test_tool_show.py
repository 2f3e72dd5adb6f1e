"""A saved tool exchange as a person reads it: `chatterm show`, `show --tree`,
`export --format markdown` and `search`, as real subprocesses, piped and on a
pseudo-terminal (where an escape sequence in a tool's result must never arrive raw)."""

from __future__ import annotations

import pytest
from chatterm_env import run_cli
from test_cli_trees import on_a_terminal
from tool_exchange import LONG_RESULT, tool_exchange

from chatterm.conversation import Conversation, Message, Role, ToolCall
from chatterm.store import Store


def ok(result: object) -> str:
    assert result.returncode == 0, result.stderr  # type: ignore[attr-defined]
    return str(result.stdout.decode())  # type: ignore[attr-defined]


@pytest.mark.e2e
def test_show_puts_each_result_under_its_call_with_its_first_lines() -> None:
    conv = tool_exchange()
    shown = ok(run_cli("show", conv.id)).splitlines()
    start = shown.index(next(line for line in shown if line.startswith("→")))
    assert shown[start:start + 16] == [
        '→ time.get_current_time {"timezone": "Asia/Tokyo"}',
        "  ← {",
        '  ←   "timezone": "Asia/Tokyo",',
        '  ←   "datetime": "2026-12-02T14:51:36+09:00"',
        "  ← }",
        '→ time.get_current_time {"timezone": "Europe/Paris"}',
        "  ← (declined)",
        '→ wiki.lookup {"page": "Quokka été"}',  # the \\u escapes read as what they spell
        "  ← (error) wiki: the server stopped (exit code 1)",
        "  ← evil \x1b]52;c;aGVsbG8=\x07clipboard \x1b[2Jcleared",  # piped: as saved
        "  ← line 1 of the page about quokkas",
        "  ← line 2 of the page about quokkas",
        "  ← line 3 of the page about quokkas",
        "  ← (12 more lines)",
        "",
        f"{conv.messages[-1].id[:8]} [assistant · test/test-model]"]
    # The results are shown with their calls, not again as messages of their own.
    assert not any(message.id[:8] in line for message in conv.messages[2:5]
                   for line in shown)


@pytest.mark.e2e
def test_a_call_nothing_answered_says_so_and_a_lone_result_is_shown_alone() -> None:
    conv = Conversation(provider="test", model="m", title="old reply")
    prompt = Message(role=Role.USER, content="weather?", conversation_id=conv.id)
    reply = Message(role=Role.ASSISTANT, conversation_id=conv.id, parent_id=prompt.id,
                    provider="test", model="m", finish_reason="tool_calls",
                    tool_calls=[ToolCall("c1", "get_weather", '{"city": "Oslo"}')])
    user = Message(role=Role.USER, content="never mind", conversation_id=conv.id,
                   parent_id=reply.id)
    lone = Message(role=Role.TOOL, content="12 °C", conversation_id=conv.id,
                   parent_id=user.id)  # a hand-made file's result naming no call
    conv.messages = [prompt, reply, user, lone]
    with Store.open() as store:
        store.create_conversation(conv)
    shown = ok(run_cli("show", conv.id))
    assert '→ get_weather {"city": "Oslo"}\n  ← (not run)\n' in shown
    assert f"{lone.id[:8]} [tool]\n← 12 °C\n" in shown


@pytest.mark.e2e
def test_show_tree_gives_calls_and_results_a_line_each() -> None:
    conv = tool_exchange()
    lines = ok(run_cli("show", conv.id, "--tree")).splitlines()
    by_id = {m.id[:8]: next(line for line in lines if m.id[:8] in line)
             for m in conv.messages}
    reply, tokyo, paris, wiki = (by_id[m.id[:8]] for m in conv.messages[1:5])
    # One line each, cut to fit as every line of the tree is.
    assert reply.endswith('test-model: → get_current_time {"timezone": "Asia/Tokyo"}; '
                          '→ get_curren…')
    assert tokyo.endswith('tool: ← time.get_current_time { "timezone": "Asia/Tokyo", "dateti…')
    assert paris.endswith("tool: ← time.get_current_time (declined)")
    assert wiki.endswith("tool: ← wiki.lookup (error) wiki: the server stopped (exit code 1…")


@pytest.mark.e2e
def test_markdown_export_shows_calls_and_results_and_keeps_every_line() -> None:
    conv = tool_exchange()
    text = ok(run_cli("export", conv.id, "--format", "markdown"))
    assert ('→ **`time.get_current_time`** (call `call_Tq3xWv8bN2mYk7LpR4sZ0aEd`)\n\n'
            '```json\n{\n  "timezone": "Asia/Tokyo"\n}\n```\n\n'
            '← **`time.get_current_time`**\n\n```text\n{\n') in text
    assert "← **`time.get_current_time`** *(declined)*\n\n→" in text
    assert "← **`wiki.lookup`** *(error) wiki: the server stopped (exit code 1)*" in text
    assert "<details><summary>12 more lines</summary>" in text
    assert all(line in text for line in LONG_RESULT.splitlines())  # nothing cut
    assert "## Tool result" not in text  # each result is with its call


@pytest.mark.e2e
def test_no_escape_in_a_result_or_arguments_reaches_the_terminal() -> None:
    conv = tool_exchange()
    with Store.open() as store:
        reply = store.get_conversation(conv.id).messages[1]
        # Arguments that are not JSON are shown as they came (JSON's own escapes would
        # have made an ESC inert text anyway).
        reply.tool_calls[0].arguments = "zone=\x1b]0;pwned\x07Asia/Tokyo"
        store.update_message(reply)
    for command in (["show", conv.id], ["show", conv.id, "--tree"],
                    ["export", conv.id, "--format", "markdown"]):
        shown = on_a_terminal(*command, columns=200)
        assert "\x1b" not in shown and "\x07" not in shown, command
    for command in (["show", conv.id], ["export", conv.id, "--format", "markdown"]):
        shown = on_a_terminal(*command, columns=200)
        # Shown as harmless symbols instead, in the result and in the arguments.
        assert "evil ␛]52;c;aGVsbG8=" in shown and "zone=␛]0;pwned" in shown, command


@pytest.mark.e2e
def test_search_finds_a_call_by_its_arguments_and_a_result_by_its_text() -> None:
    conv = tool_exchange()
    found = ok(run_cli("search", "Europe/Paris"))
    assert found.startswith(f"{conv.id[:8]}  Time zones\n")
    assert 'get_current_time {"timezone": "[Europe/Paris]"}' in found
    assert "line 1 of the [page] about [quokkas]" in ok(run_cli("search", "page", "quokkas"))


def test_each_way_a_call_can_end_is_said_once() -> None:
    from chatterm import tool_text
    from chatterm.toolbox import DECLINED_TEXT, STOPPED_TEXT

    def result(content: str, outcome: str, error: str | None = None) -> Message:
        return Message(role=Role.TOOL, content=content, finish_reason=outcome, error=error,
                       provider="time", model="get_current_time", tool_call_id="c")

    lines = tool_text.result_lines
    assert lines(result(STOPPED_TEXT, "stopped", "stopped")) == ["← (stopped)"]
    assert lines(result(DECLINED_TEXT, "declined", "declined")) == ["← (declined)"]
    # The engine's text for an error with no output of its own names the error already.
    assert lines(result("error: timed out after 60 s", "error", "timed out after 60 s")) == [
        "← (error)", "← error: timed out after 60 s"]
    assert lines(result("no tool named get_time", "unknown", "no such tool")) == [
        "← (unknown) no such tool", "← no tool named get_time"]
    assert lines(result("", "ok")) == ["← (empty)"]
    assert lines(result("a\nb\nc\nd\ne", "ok"))[-1] == "← (1 more line)"
    assert lines(None) == ["← (not run)"]
