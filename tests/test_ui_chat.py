"""Pilot tests of the chat screen against the real client and the loopback HTTP server."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from loopback import (
    Delay,
    Drop,
    Hold,
    Reply,
    json_reply,
    sse_chunks,
    sse_event,
    sse_reply,
    stream_reply,
)
from ui_helpers import (
    LOOP_KEY,
    LOOP_KEY_ENV,
    running,
    screen_text,
    terminal_output,
    wait_until,
    write_config,
)

from chatterm.conversation import Conversation, Message, MessageState, Role
from chatterm.launch import LaunchOptions
from chatterm.screen_state import ScreenState
from chatterm.store import Store

pytestmark = pytest.mark.slow

CHAT = "chat/completions"


def saved(conversation_id: str) -> Conversation:
    with Store.open() as store:
        return store.get_conversation(conversation_id)


def replies(app: Any) -> list[Any]:
    from chatterm.ui.chat.assistant_view import AssistantMessage

    return [v for v in app.chat.message_list.views() if isinstance(v, AssistantMessage)]


async def type_and_send(pilot: Any, text: str) -> None:
    pilot.app.chat.prompt.insert(text)
    await pilot.press("enter")


async def until_idle(pilot: Any) -> None:
    await wait_until(pilot, lambda: not pilot.app.chat.busy, what="the reply to end")


# ---- launch ----------------------------------------------------------------------------


async def test_opens_with_prompt_focused_and_model_shown(server: Any) -> None:
    async with running() as (app, _pilot):
        assert app.focused is app.chat.prompt
        assert "loop · model-a" in screen_text(app)


@pytest.mark.parametrize("resume", [False, True], ids=["new chat", "long chat resumed"])
async def test_quitting_as_the_first_frame_is_drawn_leaves_no_error(
    server: Any, monkeypatch: pytest.MonkeyPatch, resume: bool
) -> None:
    import warnings

    from ui_helpers import make_app

    from chatterm.ui.app import ChattermApp

    options = LaunchOptions(resume_id=seed_conversation(120)) if resume else None
    # The app's first after-frame callback quits, before the screen's own ones (footer,
    # key check, history backfill) have run: they must notice and do nothing.
    monkeypatch.setattr(ChattermApp, "_warm_up", lambda self: self.exit(0))
    app = make_app(options)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. a key-check coroutine never awaited
            async with app.run_test() as pilot:
                await pilot.pause()
    finally:
        app.store.close()
    assert app.return_code == 0


# ---- send and stream -------------------------------------------------------------------


async def test_send_streams_live_then_saves(server: Any) -> None:
    hold = threading.Event()
    server.script(CHAT, sse_reply(["Hel", "lo ", "**world**"], hold=hold, model="model-a",
                                  usage={"prompt_tokens": 3, "completion_tokens": 5}))
    async with running() as (app, pilot):
        await type_and_send(pilot, "hi there")
        assert app.chat.prompt.text == ""
        # The first token is on screen while the server is still holding the rest.
        await wait_until(pilot, lambda: "Hel" in screen_text(app), what="the first token")
        assert app.chat.busy
        assert app.chat.status.state in ("waiting", "streaming")
        hold.set()
        await until_idle(pilot)
        await wait_until(pilot, lambda: "world" in screen_text(app), what="the last word")
        text = screen_text(app)
        assert "3 in · 5 out" in text
        request = server.requests[0]
        assert request.json["model"] == "model-a"
        assert request.json["messages"] == [{"role": "user", "content": "hi there"}]
        assert request.headers["authorization"] == f"Bearer {LOOP_KEY}"
        conversation = saved(app.chat.conversation.id)
        assert conversation.title == "hi there"
        user, reply = conversation.messages
        assert (user.role, user.content) == (Role.USER, "hi there")
        assert reply.content == "Hello **world**"
        assert reply.state is MessageState.COMPLETE
        assert reply.model == "model-a"
        assert app.focused is app.chat.prompt


async def test_status_shows_waiting_then_the_rate_and_the_cursor_rests_meanwhile(
    server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatterm.ui.chat import status_bar

    now = [100.0]
    monkeypatch.setattr(status_bar, "clock", lambda: now[0])
    first, rest, end = threading.Event(), threading.Event(), threading.Event()
    events = sse_chunks(["one ", "two ", "three ", "four"])
    server.script(CHAT, stream_reply(
        [Hold(first), events[0], Hold(rest), *events[1:3], Hold(end), *events[3:]]))
    async with running() as (app, pilot):
        status, prompt = app.chat.status, app.chat.prompt
        assert prompt.cursor_blink
        await type_and_send(pilot, "count")
        await wait_until(pilot, lambda: status.state == "waiting", what="waiting")
        assert "waiting" in status.text
        first.set()
        await wait_until(pilot, lambda: "one" in screen_text(app), what="the first token")
        assert status.state == "streaming" and "1 token" in status.text
        # A blink would be a screen update of its own; the cursor holds still instead.
        assert not prompt.cursor_blink
        # 0.6 s later, more tokens: the rate is due (every 0.5 s), but a redraw of
        # its own would wait 1 s; it is drawn with the reply, in the same frame.
        now[0] += 0.6
        rest.set()
        await wait_until(pilot, lambda: "s ·" in status.text, what="the rate")
        found = re.search(r"(\d) tokens · (\d+) tok/s", status.text)
        assert found, status.text
        assert found[1] == "3" and found[2] == "5"  # 3 tokens in 0.6 s
        end.set()
        await until_idle(pilot)
        assert prompt.cursor_blink
        assert "four" in screen_text(app)


async def test_enter_sends_but_newline_keys_do_not(server: Any) -> None:
    async with running() as (app, pilot):
        await pilot.press("a", "shift+enter", "b", "ctrl+j", "c", "alt+enter", "d")
        assert app.chat.prompt.text == "a\nb\nc\nd"
        assert not server.requests
        assert not app.chat.busy


async def test_alt_enter_from_a_legacy_terminal_is_a_newline() -> None:
    # Outside the kitty protocol, Alt+Enter arrives as ESC CR; it must not send.
    from textual._xterm_parser import XTermParser

    from chatterm.ui.app import _teach_alt_enter

    _teach_alt_enter()
    parser = XTermParser()
    keys = [event.key for event in [*parser.feed("\x1b\r"), *parser.feed("")]]
    assert keys == ["alt+enter"]


async def test_one_megabyte_paste_is_taken_and_sent(server: Any) -> None:
    from textual import events

    big = ("lorem ipsum dolor sit amet " * 40 + "\n") * 970  # about 1 MB
    assert len(big) > 1_000_000
    server.script(CHAT, sse_reply(["ok"]))
    async with running() as (app, pilot):
        app.post_message(events.Paste(big))  # as the driver delivers a bracketed paste
        await wait_until(pilot, lambda: len(app.chat.prompt.text) == len(big),
                         what="the paste to land")
        await pilot.press("enter")
        await until_idle(pilot)
        assert server.requests[0].json["messages"][-1]["content"] == big
        # The view shows a clipped copy; the store has all of it.
        from chatterm.ui.chat.message_view import UserMessage

        user_view = next(v for v in app.chat.message_list.views() if isinstance(v, UserMessage))
        shown = str(user_view.query_one(".msg-body").render())
        assert "more characters not shown" in shown
        assert len(shown) < 100_000
        assert saved(app.chat.conversation.id).messages[0].content == big


# ---- stop, continue, retry ----------------------------------------------------------------


async def test_escape_stops_and_keeps_partial_then_continue(server: Any) -> None:
    hold = threading.Event()
    server.script(CHAT, sse_reply(["Once upon", " a time"], hold=hold))
    server.script(CHAT, sse_reply([" there was", " a dragon."]))
    async with running() as (app, pilot):
        await type_and_send(pilot, "tell a story")
        await wait_until(pilot, lambda: "Once upon" in screen_text(app), what="first tokens")
        await pilot.press("escape")
        await until_idle(pilot)
        hold.set()
        stored = saved(app.chat.conversation.id).messages[-1]
        assert stored.state is MessageState.INTERRUPTED
        assert stored.content == "Once upon"
        assert "interrupted" in screen_text(app)
        # The prompt works again right away.
        assert app.focused is app.chat.prompt
        await pilot.press("ctrl+g")
        await until_idle(pilot)
        second = server.requests[1].json
        assert second["messages"][-2] == {"role": "assistant", "content": "Once upon"}
        assert "cut off" in second["messages"][-1]["content"]
        stored = saved(app.chat.conversation.id).messages[-1]
        assert stored.content == "Once upon there was a dragon."
        assert stored.state is MessageState.COMPLETE
        assert len(replies(app)) == 1
        await wait_until(pilot, lambda: "a dragon." in screen_text(app), what="continued text")


def exported(conversation_id: str) -> list[dict[str, Any]]:
    """The messages as `show --json` prints them."""
    import json

    from chatterm.transfer import export_json

    return json.loads(export_json(saved(conversation_id)))["messages"]


@pytest.mark.parametrize("key", ["ctrl+r", "ctrl+g"])
async def test_a_retry_or_continue_stopped_while_waiting_gives_the_reply_back(
    server: Any, key: str
) -> None:
    """Finish a reply, Ctrl+R (or Ctrl+G on a reply cut at max_tokens), Esc while it
    says "waiting…": the reply is back on screen and in the store exactly as it was."""
    finish = "stop" if key == "ctrl+r" else "length"
    server.script(CHAT, sse_reply(["The first ", "answer."], finish_reason=finish))
    answer = threading.Event()
    server.script(CHAT, Reply(before=[Hold(answer)]))
    async with running() as (app, pilot):
        try:
            await type_and_send(pilot, "question")
            await until_idle(pilot)
            conversation_id = app.chat.conversation.id
            before = exported(conversation_id)
            await pilot.press(key)
            await wait_until(pilot, lambda: len(server.requests) == 2, what="the attempt")
            assert app.chat.busy and "waiting" in app.chat.status.text
            await pilot.press("escape")
            await until_idle(pilot)
        finally:
            answer.set()
        assert exported(conversation_id) == before
        [view] = replies(app)
        assert view.message.id == before[-1]["id"]
        assert "The first answer." in screen_text(app)
        assert "interrupted" not in screen_text(app)
        assert "previous reply is back" in app.chat.status.text
        # The next prompt carries that reply.
        server.script(CHAT, sse_reply(["ok"]))
        await type_and_send(pilot, "next")
        await until_idle(pilot)
        assert server.requests[-1].json["messages"][1] == {
            "role": "assistant", "content": "The first answer."}


async def test_ctrl_g_on_a_complete_reply_changes_nothing(server: Any) -> None:
    server.script(CHAT, sse_reply(["The whole ", "answer."]))
    async with running() as (app, pilot):
        await type_and_send(pilot, "question")
        await until_idle(pilot)
        before = exported(app.chat.conversation.id)
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: app.chat.status.state == "error", what="the refusal")
        assert "use retry" in app.chat.status.text
        await until_idle(pilot)
        assert len(server.requests) == 1
        assert exported(app.chat.conversation.id) == before
        assert "The whole answer." in screen_text(app)


async def test_a_failed_regenerate_gives_the_reply_back(server: Any) -> None:
    server.script(CHAT, sse_reply(["The first ", "answer."]))
    server.script(CHAT, json_reply({"error": {"message": "overloaded"}}, status=400))
    async with running() as (app, pilot):
        await type_and_send(pilot, "question")
        await until_idle(pilot)
        before = exported(app.chat.conversation.id)
        await pilot.press("ctrl+r")
        await until_idle(pilot)
        assert exported(app.chat.conversation.id) == before
        assert "overloaded: the previous reply is back" in app.chat.status.text
        await wait_until(pilot, lambda: "The first answer." in screen_text(app),
                         what="the reply shown again")
        assert len(replies(app)) == 1


async def test_the_regenerate_link_and_the_palette_run_the_chat_screens_retry(
        server: Any) -> None:
    """The chat's actions are the chat screen's (not the app's): the [regenerate] link
    under the last reply and the palette's "Retry reply" must still reach them."""
    from textual.command import CommandPalette

    for text in ("first", "second", "third"):
        server.script(CHAT, sse_reply([text]))
    async with running() as (app, pilot):
        await type_and_send(pilot, "question")
        await until_idle(pilot)
        footer = replies(app)[-1].query_one(".msg-footer")
        assert "[regenerate]" in str(footer.render())
        await pilot.click(footer, offset=(2, 0))
        await wait_until(pilot, lambda: len(server.requests) == 2, what="the link's retry")
        await until_idle(pilot)
        await wait_until(pilot, lambda: "second" in screen_text(app), what="the new reply")
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette),
                         what="the palette")
        await pilot.press(*"retry reply")
        await wait_until(pilot, lambda: "Retry reply" in screen_text(app), what="the command")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(server.requests) == 3, what="the palette's retry")
        await until_idle(pilot)
        assert saved(app.chat.conversation.id).messages[-1].content == "third"


async def test_the_empty_palette_lists_chatterm_s_commands_first_then_textual_s(
        server: Any) -> None:
    """The walkthrough found Textual's Keys/Maximize/Quit/Screenshot above chatterm's
    commands: with two palette providers the order was whichever ran first."""
    from textual.command import CommandPalette
    from textual.widgets import OptionList

    from chatterm.keymap import PALETTE_ACTIONS

    async with running() as (app, pilot):
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette),
                         what="the palette")
        system = sorted(command.title for command in app.get_system_commands(app.chat)
                        if command.discover)
        ours = [action.palette for action in PALETTE_ACTIONS]

        def listed() -> list[str]:
            return [str(option.hit.text) for option in app.screen.query_one(OptionList).options
                    if hasattr(option, "hit")]

        await wait_until(pilot, lambda: len(listed()) == len(ours) + len(system),
                         what="every command listed")
        assert listed() == ours + system
        assert "Keys" in system


async def test_error_shows_retry_and_ctrl_r_regenerates(server: Any) -> None:
    server.script(CHAT, json_reply({"error": {"message": "Invalid API key provided",
                                               "type": "invalid_request_error"}}, status=401))
    server.script(CHAT, sse_reply(["second ", "try"]))
    async with running() as (app, pilot):
        await type_and_send(pilot, "hello")
        await until_idle(pilot)
        text = screen_text(app)
        assert "Invalid API key provided" in text
        assert "[retry]" in text
        assert app.chat.status.state == "error"
        assert len(server.requests) == 1  # a 401 is never retried on its own
        stored = saved(app.chat.conversation.id).messages[-1]
        assert stored.state is MessageState.ERROR
        await pilot.press("ctrl+r")
        await until_idle(pilot)
        assert len(server.requests) == 2
        assert server.requests[1].json["messages"] == [{"role": "user", "content": "hello"}]
        stored = saved(app.chat.conversation.id).messages
        assert [m.role for m in stored] == [Role.USER, Role.ASSISTANT]
        assert stored[-1].content == "second try"
        assert stored[-1].state is MessageState.COMPLETE
        await wait_until(pilot, lambda: "second try" in screen_text(app), what="new reply")
        assert "Invalid API key" not in screen_text(app).split("you")[-1]


async def test_unknown_model_404_shows_close_catalog_matches(
    loopback: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in the CLI: the server's words, then the catalog's ids close to the mistyped one."""
    monkeypatch.setenv(LOOP_KEY_ENV, LOOP_KEY)
    write_config(Path(os.environ["CHATTERM_CONFIG"]), loopback.url, extra=(
        f'[providers.aimlapi]\nbase_url = "{loopback.url}"\napi_key_env = "{LOOP_KEY_ENV}"\n'))
    loopback.script(CHAT, json_reply(
        {"error": {"message": "The model `gpt-4o-mino` does not exist",
                   "type": "invalid_request_error", "code": "model_not_found"}}, status=404))
    options = LaunchOptions(provider="aimlapi", model="gpt-4o-mino")
    async with running(options, size=(140, 32)) as (app, pilot):
        await type_and_send(pilot, "hello")
        await until_idle(pilot)
        assert loopback.requests[0].json["model"] == "gpt-4o-mino"
        status = app.chat.status.text
        assert "does not exist; did you mean: " in status and "gpt-4o-mini" in status
        # The reply itself says so too, and keeps saying it after a restart.
        assert "did you mean: " in replies(app)[-1].message.error
        assert "gpt-4o-mini" in saved(app.chat.conversation.id).messages[-1].error


async def test_drop_mid_stream_keeps_partial_and_offers_continue(server: Any) -> None:
    chunks = [sse_event({"choices": [{"index": 0, "delta": {"content": t}}]})
              for t in ("partial ", "answer")]
    server.script(CHAT, stream_reply([*chunks, Delay(0.05), Drop()]))
    async with running() as (app, pilot):
        await type_and_send(pilot, "go")
        await until_idle(pilot)
        stored = saved(app.chat.conversation.id).messages[-1]
        assert stored.content == "partial answer"
        assert stored.state is MessageState.INTERRUPTED
        text = screen_text(app)
        assert "partial answer" in text
        assert "[continue]" in text and "[retry]" in text
        assert app.chat.status.state == "error"
        # The app is still usable: type and the prompt takes it.
        await pilot.press("x")
        assert app.chat.prompt.text == "x"


async def test_429_countdown_is_shown_and_escape_cancels_it(server: Any) -> None:
    server.script(CHAT, json_reply({"error": {"message": "Rate limit reached"}}, status=429,
                                   headers={"Retry-After": "30"}))
    async with running() as (app, pilot):
        await type_and_send(pilot, "hello")
        await wait_until(pilot, lambda: app.chat.status.state == "retrying",
                         what="the retry countdown")
        assert "in 30 s" in app.chat.status.text or "in 29 s" in app.chat.status.text
        assert "Esc cancels" in app.chat.status.text
        await pilot.press("escape")
        await until_idle(pilot)
        assert len(server.requests) == 1
        assert app.chat.status.state != "retrying"
        stored = saved(app.chat.conversation.id).messages[-1]
        assert stored.state in (MessageState.INTERRUPTED, MessageState.ERROR)
        assert app.focused is app.chat.prompt


async def test_429_then_success_after_retry_after(server: Any) -> None:
    server.script(CHAT, json_reply({"error": {"message": "slow down"}}, status=429,
                                   headers={"Retry-After": "1"}))
    server.script(CHAT, sse_reply(["made it"]))
    async with running() as (app, pilot):
        await type_and_send(pilot, "hello")
        await wait_until(pilot, lambda: app.chat.status.state == "retrying",
                         what="the retry countdown")
        await until_idle(pilot)
        assert len(server.requests) == 2
        await wait_until(pilot, lambda: "made it" in screen_text(app), what="the reply")


async def test_quit_mid_stream_keeps_the_partial_reply(server: Any) -> None:
    hold = threading.Event()
    server.script(CHAT, sse_reply(["kept ", "never sent"], hold=hold))
    try:
        async with running() as (app, pilot):
            await type_and_send(pilot, "hello")
            await wait_until(pilot, lambda: "kept" in screen_text(app), what="first token")
            conversation_id = app.chat.conversation.id
            await pilot.press("ctrl+q")
            await wait_until(pilot, lambda: not app.is_running, what="the app to exit")
    finally:
        hold.set()
    stored = saved(conversation_id).messages[-1]
    assert stored.content == "kept "
    assert stored.state is MessageState.INTERRUPTED


async def test_a_surrogate_pair_split_across_chunks_is_drawn_saved_and_reopened(
    server: Any,
) -> None:
    # The halves of U+1F600 as JSON escapes in two events (a proxy cutting per UTF-16 code
    # unit), then a lone half: drawn as one emoji and U+FFFD, and still there after a quit.
    def chunk(content: str) -> bytes:
        return f'data: {{"choices":[{{"index":0,"delta":{{"content":"{content}"}}}}]}}\n\n'.encode()

    server.script(CHAT, stream_reply([
        chunk("smile \\ud83d"), chunk("\\ude00 lone \\udc00 end"), *sse_chunks([])]))
    expected = "smile \U0001f600 lone \ufffd end"
    async with running() as (app, pilot):
        await type_and_send(pilot, "hello")
        await until_idle(pilot)
        await wait_until(pilot, lambda: "lone" in screen_text(app), what="the reply")
        assert replies(app)[-1].body_text == expected
        conversation_id = app.chat.conversation.id
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: not app.is_running, what="the app to exit")
    async with running(LaunchOptions(continue_last=True)) as (app, pilot):
        assert app.chat.conversation.id == conversation_id
        await wait_until(pilot, lambda: "lone" in screen_text(app), what="the reopened reply")
        assert replies(app)[-1].message.content == expected
        assert replies(app)[-1].message.state is MessageState.COMPLETE


# ---- model switch ----------------------------------------------------------------------


async def test_model_switch_mid_conversation_sends_history_to_new_model(server: Any) -> None:
    server.script(CHAT, sse_reply(["from A"], model="model-a"))
    server.script(CHAT, sse_reply(["from B"], model="model-b"))
    async with running() as (app, pilot):
        await type_and_send(pilot, "first")
        await until_idle(pilot)
        app.chat.edits.apply_model("loop", "model-b")
        await pilot.pause()
        assert "loop · model-b" in screen_text(app)
        await type_and_send(pilot, "second")
        await until_idle(pilot)
        second = server.requests[1].json
        assert second["model"] == "model-b"
        assert second["messages"] == [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "from A"},
            {"role": "user", "content": "second"},
        ]
        labels = [view.message.model for view in replies(app)]
        assert labels == ["model-a", "model-b"]
        # The switch was this chat's own: a new chat starts from the config again.
        switched = app.chat.conversation.id
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: app.chat.conversation.id != switched, what="new chat")
        assert app.chat.conversation.model == app.config.model_for(None)
        assert app.chat.conversation.model != "model-b"
        assert "model-b" not in screen_text(app)
        await pilot.press("ctrl+b")
        app.chat.open_saved(switched)
        await wait_until(pilot, lambda: app.chat.conversation.id == switched, what="reopen")
        headers = [str(view.header()) for view in replies(app)]
        assert "model-a" in headers[0] and "model-b" in headers[1]
        stored = saved(app.chat.conversation.id)
        assert [m.model for m in stored.messages if m.role is Role.ASSISTANT] == [
            "model-a", "model-b"]
        assert stored.model == "model-b"


# ---- resume and long conversations -----------------------------------------------------


def seed_conversation(count: int, *, title: str = "seeded", model: str = "model-a") -> str:
    conversation = Conversation(provider="loop", model=model, title=title)
    for index in range(count):
        role = Role.USER if index % 2 == 0 else Role.ASSISTANT
        conversation.messages.append(Message(
            role=role, content=f"message number {index}", conversation_id=conversation.id,
            provider="loop" if role is Role.ASSISTANT else None,
            model=model if role is Role.ASSISTANT else None,
        ))
    with Store.open() as store:
        store.create_conversation(conversation)
    return conversation.id


async def test_resume_by_prefix_mounts_last_page_and_sends_full_history(server: Any) -> None:
    conversation_id = seed_conversation(120)
    server.script(CHAT, sse_reply(["answer"]))
    async with running(LaunchOptions(resume_id=conversation_id[:10])) as (app, pilot):
        chat = app.chat
        assert chat.conversation.id == conversation_id
        # The newest are mounted first, the rest of the first page right after.
        await wait_until(pilot, lambda: len(chat.message_list.views()) == 50,
                         what="the first page")
        views = chat.message_list.views()
        assert views[-1].message.content == "message number 119"
        assert "message number 119" in screen_text(app)
        await type_and_send(pilot, "one more")
        await until_idle(pilot)
        sent = server.requests[0].json["messages"]
        assert len(sent) == 121
        assert sent[0]["content"] == "message number 0"
        assert len(saved(conversation_id).messages) == 122


async def test_scrolling_to_the_top_loads_earlier_messages(server: Any) -> None:
    conversation_id = seed_conversation(120)
    async with running(LaunchOptions(resume_id=conversation_id)) as (app, pilot):
        chat = app.chat
        message_list = chat.message_list
        await wait_until(pilot, lambda: len(message_list.views()) == 50, what="the first page")
        first = message_list.views()[0]
        assert first.message.content == "message number 70"
        message_list.scroll_home(animate=False)
        await wait_until(pilot, lambda: len(message_list.views()) == 100,
                         what="a second page")
        # The view stays where the reader was, not at the oldest message.
        await wait_until(pilot, lambda: message_list.scroll_y > 0, what="the place kept")
        message_list.scroll_home(animate=False)
        await wait_until(pilot, lambda: len(message_list.views()) == 120, what="the rest")
        assert message_list.views()[0].message.content == "message number 0"
        assert not message_list.has_older


async def test_scrolling_up_a_branched_chat_loads_only_its_current_branch(server: Any) -> None:
    """Scroll-back pages the current branch by message id: the other versions saved in
    between (every tenth reply has an older one) never show up, nothing is skipped."""
    conversation = Conversation(provider="loop", model="model-a", title="branched")
    parent: str | None = None
    for index in range(120):
        role = Role.USER if index % 2 == 0 else Role.ASSISTANT
        if role is Role.ASSISTANT and index % 10 == 1:
            conversation.messages.append(Message(
                role=role, content=f"older version of {index}", parent_id=parent,
                conversation_id=conversation.id, provider="loop", model="model-a"))
        message = Message(role=role, content=f"message number {index}", parent_id=parent,
                          conversation_id=conversation.id)
        conversation.messages.append(message)
        parent = message.id
    conversation.current_id = parent
    with Store.open() as store:
        store.create_conversation(conversation)
    async with running(LaunchOptions(resume_id=conversation.id)) as (app, pilot):
        message_list = app.chat.message_list
        await wait_until(pilot, lambda: len(message_list.views()) == 50, what="the first page")
        message_list.scroll_home(animate=False)
        await wait_until(pilot, lambda: len(message_list.views()) == 100,
                         what="a second page")
        message_list.scroll_home(animate=False)
        await wait_until(pilot, lambda: len(message_list.views()) == 120, what="the rest")
        assert [view.message.content for view in message_list.views()] == [
            f"message number {index}" for index in range(120)]
        assert not message_list.has_older


async def test_continue_flag_reopens_the_last_conversation(server: Any) -> None:
    seed_conversation(4, title="older")
    newest = seed_conversation(2, title="newest")
    async with running(LaunchOptions(continue_last=True)) as (app, _pilot):
        assert app.chat.conversation.id == newest
        assert "newest" in screen_text(app)


async def test_the_next_launch_opens_the_screen_as_it_was_left(server: Any) -> None:
    from chatterm.screen_state import load_screen_state

    seed_conversation(2, title="kept chat")
    async with running() as (app, pilot):
        assert app.chat.sidebar is None  # a first run: no sidebar
        await pilot.press("ctrl+b")
        await wait_until(pilot, lambda: "kept chat" in screen_text(app), what="the sidebar")
    assert load_screen_state() == (ScreenState(sidebar=True), None)

    async with running() as (app, pilot):
        # Reopened with the sidebar, and the prompt still has the focus.
        await wait_until(pilot, lambda: "kept chat" in screen_text(app),
                         what="the sidebar, reopened")
        assert app.focused is app.chat.prompt
        await pilot.press("ctrl+b")  # closed again: remembered as closed
        await wait_until(pilot, lambda: "kept chat" not in screen_text(app),
                         what="the sidebar to close")
    assert load_screen_state() == (ScreenState(sidebar=False), None)

    async with running() as (app, pilot):
        # The sidebar would come back in the same after-first-frame batch as the footer.
        await wait_until(pilot, lambda: app.chat.query("Footer"), what="the footer")
        assert app.chat.sidebar is None
        assert "kept chat" not in screen_text(app)


async def test_a_damaged_screen_state_file_is_reported_and_the_app_starts(
    server: Any,
) -> None:
    from chatterm.locations import screen_state_file

    screen_state_file().parent.mkdir(parents=True, exist_ok=True)
    screen_state_file().write_text("{ not json", encoding="utf-8")
    async with running() as (app, pilot):
        await wait_until(pilot, lambda: any("is not valid JSON" in n.message
                                            for n in app._notifications),
                         what="the notice")
        assert app.focused is app.chat.prompt
        await pilot.press("ctrl+b")  # a good file replaces the damaged one
        await wait_until(pilot, lambda: app.chat.sidebar is not None, what="the sidebar")
    assert screen_state_file().read_text(encoding="utf-8").strip() == '{"sidebar": true}'


# ---- hostile text ----------------------------------------------------------------------

HOSTILE = (
    "clip\x1b]52;c;ZXZpbCBjbGlwYm9hcmQ=\x07 "
    "link\x1b]8;;file:///etc/passwd\x1b\\click\x1b]8;;\x1b\\ "
    "wipe\x1b[2J\x1b[H "
    "title\x1b]0;pwned\x07\x1b]2;pwned2\x1b\\ "
    "c1\x9b31m\x9d0;x\x9c end"
)


async def test_hostile_escape_sequences_never_reach_the_terminal(server: Any) -> None:
    server.script(CHAT, sse_reply([HOSTILE[:30], HOSTILE[30:]],
                                  reasoning=["think\x1b]52;c;eA==\x07"]))
    async with running() as (app, pilot):
        await type_and_send(pilot, "be nasty")
        await until_idle(pilot)
        output = terminal_output(app)
        for raw in ("\x1b]52", "\x1b]8;;file", "\x1b[2J", "\x1b]0;", "\x1b]2;", "\x07",
                    "\x9b", "\x9d", "\x9c"):
            assert raw not in output, f"{raw!r} reached the terminal"
        text = screen_text(app)
        assert "␛]52;c;ZXZpbCBjbGlwYm9hcmQ=␇" in text
        assert "end" in text
        # What the model sent is stored as sent: only the display is neutralised.
        assert saved(app.chat.conversation.id).messages[-1].content == HOSTILE


# ---- first run ---------------------------------------------------------------------------


@pytest.fixture
def keyless(loopback: Any) -> Any:
    """The loopback provider needs a key (via its env var) and none is set."""
    write_config(Path(os.environ["CHATTERM_CONFIG"]), loopback.url)
    return loopback


async def test_first_run_explains_and_saves_a_pasted_key(keyless: Any) -> None:
    from chatterm.ui.dialogs.first_run import FirstRunScreen

    keyless.script(CHAT, sse_reply(["welcome"]))
    secret = "sk-pasted-secret-key-abcdef123456"
    async with running() as (app, pilot):
        await wait_until(pilot, lambda: isinstance(app.screen, FirstRunScreen),
                         what="the first-run screen")
        text = screen_text(app)
        assert LOOP_KEY_ENV in text and "loop" in text
        app.screen.query_one("#fr-key").value = secret
        await pilot.click("#fr-save")
        await wait_until(pilot, lambda: app.screen is app.chat, what="back to the chat")
        config_file = Path(os.environ["CHATTERM_CONFIG"])
        assert secret in config_file.read_text()
        assert config_file.stat().st_mode & 0o777 == 0o600
        assert secret not in screen_text(app)
        await type_and_send(pilot, "hello")
        await until_idle(pilot)
        assert keyless.requests[0].headers["authorization"] == f"Bearer {secret}"


async def test_first_run_can_switch_to_a_keyless_url(keyless: Any) -> None:
    from chatterm.ui.dialogs.first_run import FirstRunScreen

    keyless.script(CHAT, sse_reply(["local hello"]))
    async with running() as (app, pilot):
        await wait_until(pilot, lambda: isinstance(app.screen, FirstRunScreen),
                         what="the first-run screen")
        app.screen.query_one("#fr-url").value = keyless.url
        app.screen.query_one("#fr-model").value = "local-model"
        await pilot.click("#fr-use-url")
        await wait_until(pilot, lambda: app.screen is app.chat, what="back to the chat")
        assert "local · local-model" in screen_text(app)
        await type_and_send(pilot, "hello")
        await until_idle(pilot)
        request = keyless.requests[0]
        assert request.json["model"] == "local-model"
        assert "authorization" not in request.headers
        assert 'default_provider = "local"' in Path(os.environ["CHATTERM_CONFIG"]).read_text()


async def test_without_a_key_saved_chats_stay_browsable(keyless: Any) -> None:
    conversation_id = seed_conversation(6, title="old chat")
    async with running(LaunchOptions(resume_id=conversation_id)) as (app, pilot):
        from chatterm.ui.dialogs.first_run import FirstRunScreen

        await wait_until(pilot, lambda: isinstance(app.screen, FirstRunScreen),
                         what="the first-run screen")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.chat, what="the chat screen")
        assert "message number 5" in screen_text(app)
        # Sending without a key brings the explanation back instead of failing silently.
        await type_and_send(pilot, "hello")
        await wait_until(pilot, lambda: isinstance(app.screen, FirstRunScreen),
                         what="the first-run screen again")
        assert not keyless.requests


# ---- misc ------------------------------------------------------------------------------


async def test_copy_last_reply_uses_the_clipboard(server: Any) -> None:
    server.script(CHAT, sse_reply(["see:\n\n```python\nprint('hi')\n```\n"]))
    async with running() as (app, pilot):
        await type_and_send(pilot, "code please")
        await until_idle(pilot)
        await pilot.press("f3")
        assert app.clipboard.startswith("see:")
        view = replies(app)[-1]
        view.focus()
        await pilot.press("b")
        assert app.clipboard == "print('hi')"


async def test_stalled_server_is_reported_and_the_app_recovers(server: Any) -> None:
    write_config(Path(os.environ["CHATTERM_CONFIG"]), server.url, read_timeout=1)
    server.script(CHAT, stream_reply([sse_event({"choices": [{"index": 0, "delta": {
        "content": "slow"}}]}), Hold(threading.Event(), timeout=8)]))
    server.script(CHAT, sse_reply(["fine"]))
    async with running() as (app, pilot):
        await type_and_send(pilot, "hello")
        await wait_until(pilot, lambda: "slow" in screen_text(app), what="first token")
        await wait_until(pilot, lambda: not app.chat.busy, timeout=20, what="read timeout")
        stored = saved(app.chat.conversation.id).messages[-1]
        assert stored.content == "slow"
        assert stored.state is MessageState.INTERRUPTED
        await pilot.press("ctrl+r")
        await until_idle(pilot)
        await wait_until(pilot, lambda: "fine" in screen_text(app), what="the retried reply")


async def test_unknown_reply_shape_never_locks_the_prompt(server: Any) -> None:
    server.script(CHAT, Reply(500, {"Content-Type": "text/html"},
                              [b"<html><title>Bad Gateway</title></html>"], chunked=False))
    server.always(CHAT, Reply(502, {"Content-Type": "text/html"},
                              [b"<html><title>Bad Gateway</title></html>"], chunked=False))
    async with running() as (app, pilot):
        await type_and_send(pilot, "hello")
        await until_idle(pilot)
        assert app.chat.status.state == "error"
        assert "<html>" not in screen_text(app)
        await pilot.press("y")
        assert app.chat.prompt.text == "y"


# ---- actions through E2's dialogs ------------------------------------------------------


def models_reply(*ids: str) -> Any:
    return json_reply({"object": "list", "data": [{"id": i, "object": "model"} for i in ids]})


async def test_ctrl_o_picker_switches_model_for_the_next_reply(server: Any) -> None:
    from chatterm.ui.pickers.model_picker import ModelPicker

    server.always("models", models_reply("model-a", "model-b"))
    server.script(CHAT, sse_reply(["from A"], model="model-a"))
    server.script(CHAT, sse_reply(["from B"], model="model-b"))
    async with running() as (app, pilot):
        await type_and_send(pilot, "first")
        await until_idle(pilot)
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelPicker), what="the picker")
        picker = app.screen
        await wait_until(pilot, lambda: "model-b" in screen_text(app), what="model-b listed")
        for key in "model-b":
            await pilot.press(key)
        await wait_until(pilot, lambda: picker.highlighted_model == "model-b",
                         what="model-b highlighted")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is app.chat, what="the picker to close")
        assert "loop · model-b" in screen_text(app)
        assert app.focused is app.chat.prompt
        await type_and_send(pilot, "second")
        await until_idle(pilot)
        chats = [r for r in server.requests if r.path.endswith("/chat/completions")]
        assert chats[1].json["model"] == "model-b"
        assert len(chats[1].json["messages"]) == 3
        assert [v.message.model for v in replies(app)] == ["model-a", "model-b"]


async def test_rename_and_delete_with_confirm(server: Any) -> None:
    from chatterm.ui.dialogs.confirm import ConfirmDialog
    from chatterm.ui.dialogs.text_prompt import TextPrompt

    conversation_id = seed_conversation(4, title="before")
    async with running(LaunchOptions(resume_id=conversation_id)) as (app, pilot):
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, TextPrompt), what="rename")
        field = app.screen.query_one("#prompt-text")
        field.value = "after the rename"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is app.chat, what="the dialog to close")
        # The title is saved off the event loop: poll for it.
        await wait_until(pilot, lambda: saved(conversation_id).title == "after the rename",
                         what="the new title saved")
        assert "after the rename" in screen_text(app)
        await pilot.press("f8")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="confirm")
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is app.chat, what="cancel")
        assert saved(conversation_id).title == "after the rename"
        await pilot.press("f8")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="confirm")
        await pilot.press("y")
        await wait_until(pilot, lambda: app.chat.conversation.id != conversation_id,
                         what="a new chat after the delete")
        with Store.open() as store:
            assert store.list_conversations() == []
        assert app.chat.message_list.views() == []


async def test_search_in_sidebar_opens_the_hit(server: Any) -> None:
    seed_conversation(4, title="unrelated")
    target = Conversation(provider="loop", model="model-a", title="zebra talk")
    target.messages = [
        Message(role=Role.USER, content="tell me about the quagga", conversation_id=target.id),
        Message(role=Role.ASSISTANT, content="The quagga was a zebra.", model="model-a",
                conversation_id=target.id),
    ]
    with Store.open() as store:
        store.create_conversation(target)
    async with running() as (app, pilot):
        await pilot.press("ctrl+f")
        await wait_until(pilot, lambda: app.chat.sidebar is not None, what="the sidebar")
        sidebar = app.chat.sidebar
        await wait_until(pilot, lambda: app.focused is sidebar.query_one("#sidebar-search"),
                         what="search focused")
        for key in "quagga":
            await pilot.press(key)
        await wait_until(pilot, lambda: sidebar.is_searching and sidebar.hit_count,
                         what="search hits")
        assert "zebra talk" in screen_text(app)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.chat.conversation.id == target.id,
                         what="the hit's conversation")
        await wait_until(pilot, lambda: "quagga was a zebra" in screen_text(app),
                         what="its messages")


async def test_export_markdown_and_json(server: Any, tmp_path: Path) -> None:
    import json

    from chatterm.ui.dialogs.export import ExportDialog

    conversation_id = seed_conversation(6, title="to export")
    async with running(LaunchOptions(resume_id=conversation_id)) as (app, pilot):
        for name, toggle in (("out.md", False), ("out.json", True)):
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: isinstance(app.screen, ExportDialog),
                             what="export dialog")
            dialog = app.screen
            if toggle:
                await pilot.press("ctrl+t")
            dialog.query_one("#export-path").value = str(tmp_path / name)
            await pilot.press("enter")
            await wait_until(pilot, lambda n=name: (tmp_path / n).exists(), what=name)
    markdown = (tmp_path / "out.md").read_text()
    assert "message number 5" in markdown
    exported = json.loads((tmp_path / "out.json").read_text())
    assert exported["id"] == conversation_id
    assert len(exported["messages"]) == 6
    assert (tmp_path / "out.json").stat().st_mode & 0o777 == 0o600


async def test_system_prompt_and_params_reach_the_next_request(server: Any) -> None:
    from chatterm.ui.dialogs.params import ParamsDialog
    from chatterm.ui.dialogs.text_prompt import TextPrompt

    server.script(CHAT, sse_reply(["ok"]))
    async with running() as (app, pilot):
        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, TextPrompt), what="system")
        app.screen.query_one("#prompt-text").load_text("You are terse.")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.screen is app.chat, what="back to chat")
        await pilot.press("f5")
        await wait_until(pilot, lambda: isinstance(app.screen, ParamsDialog), what="params")
        app.screen.query_one("#params-temperature").value = "0.3"
        app.screen.query_one("#params-max-tokens").value = "77"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.screen is app.chat, what="back to chat")
        await type_and_send(pilot, "hi")
        await until_idle(pilot)
        body = server.requests[0].json
        assert body["messages"][0] == {"role": "system", "content": "You are terse."}
        assert body["temperature"] == 0.3
        assert body["max_tokens"] == 77
        stored = saved(app.chat.conversation.id)
        assert stored.system_prompt == "You are terse."
        assert stored.params.max_tokens == 77


async def test_theme_switch_persists_to_the_config(server: Any) -> None:
    from chatterm.ui.pickers.theme_picker import ThemePicker

    async with running() as (app, pilot):
        assert app.theme == "chatterm-dark"
        await app.run_action("change_theme")
        await wait_until(pilot, lambda: isinstance(app.screen, ThemePicker), what="picker")
        for key in "chatterm-light":
            await pilot.press(key)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is app.chat, what="back to chat")
        assert app.theme == "chatterm-light"
    config_text = Path(os.environ["CHATTERM_CONFIG"]).read_text()
    assert 'theme = "chatterm-light"' in config_text
    async with running() as (app, _pilot):
        assert app.theme == "chatterm-light"


async def test_keys_table_rebinds_an_action(server: Any) -> None:
    from chatterm.ui.pickers.model_picker import ModelPicker

    server.always("models", models_reply("model-a"))
    write_config(Path(os.environ["CHATTERM_CONFIG"]), server.url,
                 extra='[keys]\nswitch_model = "f9"\n')
    async with running() as (app, pilot):
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert app.screen is app.chat
        await pilot.press("f9")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelPicker), what="picker")
        assert "f9" in app.chatterm_keymap["switch_model"]


# ---- what a reply can hold -------------------------------------------------------------


async def test_recorded_reasoning_refusal_and_tool_calls_are_shown(
    server: Any, shared_fixtures: Path
) -> None:
    """Real recorded streams: reasoning folded, a refusal marked as one, tool calls named."""
    from textual.widgets import Collapsible

    sse = shared_fixtures / "sse"
    for name in ("deepseek_reasoning_content_stream", "openai_refusal_stream",
                 "openai_toolcall_stream"):
        server.script(CHAT, stream_reply([(sse / f"{name}.sse").read_bytes()]))
    async with running(size=(110, 60)) as (app, pilot):
        await type_and_send(pilot, "think first")
        await until_idle(pilot)
        reply = replies(app)[-1]
        folded = reply.query(Collapsible)
        assert len(folded) == 1 and folded.first().collapsed
        assert "Reasoning" in screen_text(app)
        assert reply.message.reasoning and reply.message.content

        await type_and_send(pilot, "do something bad")
        await until_idle(pilot)
        refusal = replies(app)[-1]
        assert refusal.message.refusal
        shown = str(refusal.query_one(".refusal").render())
        assert shown.startswith("Refused: ") and refusal.message.refusal[:20] in shown

        await type_and_send(pilot, "weather?")
        await until_idle(pilot)
        tool = replies(app)[-1]
        assert tool.message.tool_calls
        calls = str(tool.query_one(".tool-block").render())
        # No tools configured: named, the arguments as pretty JSON, marked as not run.
        assert calls.startswith("⚙ get_weather  · not run")
        assert '"city": "New York City"' in calls


async def test_view_follows_the_stream_until_the_user_scrolls_up(server: Any) -> None:
    first, second = threading.Event(), threading.Event()
    lines = [f"line {i}\n\n" for i in range(60)]
    events = [sse_event({"choices": [{"index": 0, "delta": {"content": t}}]}) for t in lines]
    server.script(CHAT, stream_reply([*events[:30], Hold(first), *events[30:45], Hold(second),
                                      *events[45:], sse_event({"choices": [
                                          {"index": 0, "delta": {}, "finish_reason": "stop"}]}),
                                      b"data: [DONE]\n\n"]))
    try:
        async with running(size=(80, 24)) as (app, pilot):
            message_list = app.chat.message_list
            await type_and_send(pilot, "count")
            await wait_until(pilot, lambda: "line 29" in screen_text(app), what="line 29")
            assert message_list.following
            # The reader scrolls up: new text must not drag the view back down.
            message_list.scroll_home(animate=False)
            await pilot.pause()
            assert not message_list.following
            first.set()
            await wait_until(pilot, lambda: "line 44" in replies(app)[-1].body_text,
                             what="more text")
            await pilot.pause(0.2)
            assert message_list.scroll_y == 0
            assert "line 44" not in screen_text(app)
            # Back at the bottom, the view follows again.
            message_list.scroll_end(animate=False)
            await pilot.pause()
            second.set()
            await until_idle(pilot)
            await wait_until(pilot, lambda: "line 59" in screen_text(app), what="the end")
            assert message_list.following
    finally:
        first.set()
        second.set()


async def test_hostile_error_text_is_neutralised_too(server: Any) -> None:
    server.script(CHAT, json_reply({"error": {"message": "bad\x1b]52;c;ZXZpbA==\x07 [b]x[/b]"}},
                                   status=400))
    async with running() as (app, pilot):
        await type_and_send(pilot, "hello")
        await until_idle(pilot)
        output = terminal_output(app)
        assert "\x1b]52" not in output and "\x07" not in output
        # The client already drops the control characters; what is left shows as text,
        # and square brackets are not taken for markup.
        assert "]52;c;ZXZpbA==" in app.chat.status.text
        assert "[b]x[/b]" in app.chat.status.text


async def test_a_one_megabyte_reply_renders_and_saves(server: Any) -> None:
    paragraph = ("All work and no play makes a long reply. " * 20 + "\n\n")
    body = paragraph * (1_050_000 // len(paragraph)) + "FINAL-WORDS"
    pieces = [body[i:i + 65536] for i in range(0, len(body), 65536)]
    server.script(CHAT, sse_reply(pieces))
    async with running() as (app, pilot):
        await type_and_send(pilot, "write a lot")
        await wait_until(pilot, lambda: not app.chat.busy, timeout=60, what="the reply")
        await wait_until(pilot, lambda: "FINAL-WORDS" in screen_text(app), timeout=30,
                         what="the end of the reply on screen")
        stored = saved(app.chat.conversation.id).messages[-1]
        assert stored.content == body
        assert stored.state is MessageState.COMPLETE


async def test_keys_table_rebinds_send_and_newline(server: Any) -> None:
    server.script(CHAT, sse_reply(["sent"]))
    write_config(Path(os.environ["CHATTERM_CONFIG"]), server.url,
                 extra='[keys]\nsend = "ctrl+s"\nnewline = "enter"\nexport_chat = "f6"\n')
    async with running() as (app, pilot):
        await pilot.press("a", "enter", "b")
        assert app.chat.prompt.text == "a\nb"
        assert not server.requests
        await pilot.press("ctrl+s")
        await until_idle(pilot)
        assert server.requests[0].json["messages"][-1]["content"] == "a\nb"


async def test_new_chat_keeps_the_old_one_and_shows_the_system_prompt(server: Any) -> None:
    from textual.widgets import Collapsible

    from chatterm.ui.chat.message_view import SystemMessage

    write_config(Path(os.environ["CHATTERM_CONFIG"]), server.url,
                 extra='system_prompt = "Answer in French."')
    server.script(CHAT, sse_reply(["Bonjour"]))
    async with running() as (app, pilot):
        system = app.chat.message_list.query(SystemMessage)
        assert len(system) == 1 and system.first().query_one(Collapsible).collapsed
        await type_and_send(pilot, "hello")
        await until_idle(pilot)
        first_id = app.chat.conversation.id
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: app.chat.conversation.id != first_id, what="new chat")
        assert [type(v) for v in app.chat.message_list.views()] == [SystemMessage]
        assert "New chat" in screen_text(app)
        assert app.focused is app.chat.prompt
        assert saved(first_id).messages[-1].content == "Bonjour"
        assert server.requests[0].json["messages"][0] == {
            "role": "system", "content": "Answer in French."}
