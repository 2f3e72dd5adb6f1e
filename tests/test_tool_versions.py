"""The tool loop after regenerate, edit and continue, as after send (issue 13): a new
version, an edited prompt's reply or a continued reply that ends with tool calls gets
them run, and the model's answer comes below the results.

Model side: the loopback server. Tool side: the in-test Box of tests/tool_box.py.
"""

from __future__ import annotations

from loopback import LoopbackServer, sse_reply, tool_call_reply
from tool_box import Box, add, saved_path, session_on

from chatterm.conversation import Message, MessageState, Role
from chatterm.store import Store


def roles(messages: list[Message]) -> list[Role]:
    return [m.role for m in messages]


async def test_a_regenerated_reply_s_tool_calls_run(loopback: LoopbackServer,
                                                    store: Store) -> None:
    loopback.script("chat/completions", [
        sse_reply(["I cannot add."]),
        tool_call_reply([("c1", "add", '{"a": 20, "b": 22}')]), sse_reply(["42"])])
    box = Box({"add": add})
    session = session_on(loopback, store, box)
    first = await session.send("20+22?")
    final = await session.regenerate()
    assert final.content == "42" and box.calls == [("add", {"a": 20, "b": 22})]
    path = saved_path(session.conversation.id)
    assert roles(path) == [Role.USER, Role.ASSISTANT, Role.TOOL, Role.ASSISTANT]
    # The new version is a sibling of the first reply; the answer below its result.
    assert path[1].parent_id == first.parent_id and path[1].id != first.id
    assert (path[2].parent_id, path[3].parent_id) == (path[1].id, path[2].id)
    assert session.versions(path[1].id) == (2, 2)
    sent = loopback.requests[2].json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"]


async def test_an_edited_prompt_s_reply_runs_its_tool_calls(loopback: LoopbackServer,
                                                            store: Store) -> None:
    loopback.script("chat/completions", [
        sse_reply(["hello"]),
        tool_call_reply([("c1", "add", '{"a": 1, "b": 2}')]), sse_reply(["3"])])
    box = Box({"add": add})
    session = session_on(loopback, store, box)
    await session.send("hi")
    user = session.conversation.messages[0]
    final = await session.edit(session.new_edit(user.id, "1+2?"))
    assert final.content == "3"
    path = saved_path(session.conversation.id)
    assert [(m.role, m.content) for m in path] == [
        (Role.USER, "1+2?"), (Role.ASSISTANT, ""), (Role.TOOL, "3"), (Role.ASSISTANT, "3")]


async def test_a_continued_reply_that_ends_in_tool_calls_runs_them(
    loopback: LoopbackServer, store: Store
) -> None:
    loopback.script("chat/completions", [
        sse_reply(["Let me add"], finish_reason=None, done=False),
        tool_call_reply([("c1", "add", '{"a": 2, "b": 2}')], content=" that."),
        sse_reply(["4"])])
    box = Box({"add": add})
    session = session_on(loopback, store, box)
    cut = await session.send("2+2?")
    assert cut.state is MessageState.INTERRUPTED
    final = await session.continue_reply()
    assert final.content == "4" and box.calls == [("add", {"a": 2, "b": 2})]
    path = saved_path(session.conversation.id)
    assert roles(path) == [Role.USER, Role.ASSISTANT, Role.TOOL, Role.ASSISTANT]
    assert (path[1].id, path[1].content, path[1].state) == (
        cut.id, "Let me add that.", MessageState.COMPLETE)
