"""The prompt queue (ui/chat/prompt_queue.py, queue_view.py): Enter while a reply streams
queues the prompt; each reply that ends well sends the next; Esc holds, Enter sends, a
second Esc clears; a failed reply holds. The real app headless against the loopback
server, whose replies wait on a threading.Event so "while it streams" is certain."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from loopback import Hold, Reply, json_reply, sse_chunks, sse_reply
from ui_helpers import running, screen_text, wait_until

pytestmark = pytest.mark.slow

CHAT = "chat/completions"


def sent_prompts(server: Any) -> list[str]:
    """The last user message of each request the server received, in order."""
    return [request.json["messages"][-1]["content"] for request in server.requests
            if request.path.endswith(CHAT)]


async def send(pilot: Any, text: str) -> None:
    pilot.app.chat.prompt.insert(text)
    await pilot.press("enter")
    await pilot.pause()


def queue_view(app: Any) -> Any:
    return app.chat.query_one("#queue")


async def streaming(pilot: Any, server: Any, text: str, count: int) -> None:
    """`text` sent; wait until its request is in and its first words are on screen."""
    await send(pilot, text)
    await wait_until(pilot, lambda: len(sent_prompts(server)) == count and pilot.app.chat.busy,
                     what="the reply to stream")


async def test_prompts_sent_while_a_reply_streams_go_in_order_after_it(server: Any) -> None:
    hold = threading.Event()
    server.script(CHAT, sse_reply(["first ", "answer"], hold=hold))
    server.script(CHAT, sse_reply(["second answer"]))
    server.script(CHAT, sse_reply(["third answer"]))
    async with running() as (app, pilot):
        await streaming(pilot, server, "first", 1)
        await send(pilot, "second\nwith a second line")
        await send(pilot, "third")
        view = queue_view(app)
        assert view.rows == ["second with a second line", "third"]
        assert app.chat.prompt.text == ""  # queued, the prompt is free again
        text = screen_text(app)
        assert "2 queued · sent when the reply ends" in text
        assert "1 second with a second line" in text and "2 third" in text
        assert sent_prompts(server) == ["first"]  # nothing goes while the reply streams
        app.chat.prompt.insert("a draft typed meanwhile")
        hold.set()
        await wait_until(pilot, lambda: len(sent_prompts(server)) == 3 and not app.chat.busy,
                         what="the queued prompts to be sent")
        assert sent_prompts(server) == ["first", "second\nwith a second line", "third"]
        # Each went with the reply before it in its history: one after the other.
        assert [m["content"] for m in server.requests[2].json["messages"]][-3:] == [
            "second\nwith a second line", "second answer", "third"]
        assert view.rows == [] and not view.display
        await wait_until(pilot, lambda: "third answer" in screen_text(app), what="the reply")
        assert app.chat.prompt.text == "a draft typed meanwhile"  # a queued send keeps it


async def test_a_queued_prompt_is_removed_by_key_and_by_its_cross(server: Any) -> None:
    hold = threading.Event()
    server.script(CHAT, sse_reply(["one ", "answer"], hold=hold))
    server.script(CHAT, sse_reply(["kept answer"]))
    async with running() as (app, pilot):
        await streaming(pilot, server, "one", 1)
        for text in ("drop by key", "drop by click", "keep me"):
            await send(pilot, text)
        view = queue_view(app)
        await pilot.press("shift+tab")  # from the prompt, the queue is the stop before it
        assert app.focused is view
        await pilot.press("delete")
        await pilot.pause()
        assert view.rows == ["drop by click", "keep me"]
        # The first row's ✕, at the end of its line (row 1: the count line is row 0).
        await pilot.click(view, offset=(view.region.width - 2, 1))
        await pilot.pause()
        assert view.rows == ["keep me"]
        hold.set()
        await wait_until(pilot, lambda: len(sent_prompts(server)) == 2 and not app.chat.busy,
                         what="the kept prompt to be sent")
        assert sent_prompts(server) == ["one", "keep me"]
        assert app.focused is app.chat.prompt  # the queue emptied: back to the prompt


async def test_esc_holds_the_queue_enter_sends_it_and_a_second_esc_clears(
        server: Any) -> None:
    hold = threading.Event()
    server.script(CHAT, sse_reply(["stopped ", "answer"], hold=hold))
    server.script(CHAT, sse_reply(["two answer"]))
    server.script(CHAT, sse_reply(["three answer"]))
    hold_again = threading.Event()
    server.script(CHAT, sse_reply(["four ", "answer"], hold=hold_again))
    async with running() as (app, pilot):
        await streaming(pilot, server, "one", 1)
        await send(pilot, "two")
        await send(pilot, "three")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.chat.busy, what="the reply to stop")
        view = queue_view(app)
        assert view.held and view.rows == ["two", "three"]
        assert "2 queued · Enter sends · Esc clears" in screen_text(app)
        assert sent_prompts(server) == ["one"]
        # Enter in the empty prompt sends the next, and the queue runs again.
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(sent_prompts(server)) == 3 and not app.chat.busy,
                         what="the held prompts to be sent")
        assert sent_prompts(server) == ["one", "two", "three"]
        assert view.rows == []
        # Held again, then cleared by a second Esc: nothing is sent.
        await streaming(pilot, server, "four", 4)
        await send(pilot, "five")
        await send(pilot, "six")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.chat.busy, what="the reply to stop")
        assert view.held and view.rows == ["five", "six"]
        await pilot.press("escape")
        await pilot.pause()
        assert view.rows == [] and not view.display
        assert "2 queued prompts cleared" in screen_text(app)
        await pilot.press("enter")  # nothing held any more: an empty Enter does nothing
        await pilot.pause()
        assert sent_prompts(server) == ["one", "two", "three", "four"]
        hold_again.set()


async def test_a_failed_reply_holds_the_queue(server: Any) -> None:
    go = threading.Event()
    failing = json_reply({"error": {"message": "bad request"}}, status=400)
    server.script(CHAT, Reply(failing.status, failing.headers, failing.body,
                              chunked=failing.chunked, before=[Hold(go)]))
    server.script(CHAT, sse_reply(["after the error"]))
    async with running() as (app, pilot):
        await streaming(pilot, server, "breaks", 1)
        await send(pilot, "waits")
        go.set()
        await wait_until(pilot, lambda: not app.chat.busy, what="the reply to fail")
        view = queue_view(app)
        assert view.held and view.rows == ["waits"]
        assert sent_prompts(server) == ["breaks"]
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(sent_prompts(server)) == 2 and not app.chat.busy,
                         what="the held prompt to be sent")
        # (The failed turn has no reply: the engine sends the two prompts as one turn.)
        assert sent_prompts(server)[1].endswith("waits")
        assert not view.held and view.rows == []


async def test_a_queue_belongs_to_its_chat_and_quitting_with_one_asks(server: Any) -> None:
    hold = threading.Event()
    server.script(CHAT, sse_reply(["long ", "answer"], hold=hold))
    async with running() as (app, pilot):
        await streaming(pilot, server, "first chat", 1)
        await send(pilot, "queued in the first chat")
        first_id = app.chat.conversation.id
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: app.chat.conversation.id != first_id,
                         what="the new chat")
        view = queue_view(app)
        await wait_until(pilot, lambda: not view.display, what="the other chat's queue")
        hold.set()  # the reply ends while its chat is not shown: its queue is held
        await wait_until(pilot, lambda: not app.chat.replies.live.streaming_ids(),
                         what="the reply to end")
        assert sent_prompts(server) == ["first chat"]
        await pilot.press("ctrl+q")  # a queued prompt would be lost: asked first
        await wait_until(pilot, lambda: "Quit with queued prompts" in screen_text(app),
                         what="the question")
        assert "1 queued prompt is not sent yet" in screen_text(app)
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is app.chat, what="the chat again")
        assert app.is_running


async def test_chips_go_with_the_prompt_queued_and_typing_on_the_queue_is_for_the_prompt(
        server: Any) -> None:
    import hashlib

    from chatterm.attachments import Attachment, PendingAttachment

    data = b"line one of the notes\n"
    notes = PendingAttachment(Attachment("notes.txt", "text/plain", len(data),
                                         hashlib.sha256(data).hexdigest()), data)
    hold = threading.Event()
    server.script(CHAT, sse_reply(["busy ", "answer"], hold=hold))
    server.script(CHAT, sse_reply(["read it"]))
    async with running() as (app, pilot):
        await streaming(pilot, server, "busy", 1)
        app.chat.attachments.tray.add(notes)
        await send(pilot, "summarise this")
        view = queue_view(app)
        assert view.rows == ["summarise this [+1 attached]"]
        assert app.chat.attachments.tray.pending == []  # the chip went with the prompt
        await pilot.press("shift+tab")
        assert app.focused is view
        await pilot.press("h", "i")  # a letter on the queue is typing: the prompt takes it
        await wait_until(pilot, lambda: app.chat.prompt.text == "hi", what="the typing")
        hold.set()
        await wait_until(pilot, lambda: len(sent_prompts(server)) == 2 and not app.chat.busy,
                         what="the queued prompt to be sent")
        assert "line one of the notes" in sent_prompts(server)[1]
        assert sent_prompts(server)[1].startswith("summarise this")


async def test_deleting_a_chat_drops_its_queue(server: Any) -> None:
    hold = threading.Event()
    server.script(CHAT, sse_reply(["doomed ", "answer"], hold=hold))
    async with running() as (app, pilot):
        await streaming(pilot, server, "doomed", 1)
        await send(pilot, "never sent")
        assert queue_view(app).rows == ["never sent"]
        app.chat.edits.delete_current()  # what F8's "Delete" answer runs
        await wait_until(pilot, lambda: not queue_view(app).display and not app.chat.busy,
                         what="the chat and its queue gone")
        assert app.chat.queue.waiting() == 0
        assert sent_prompts(server) == ["doomed"]
        hold.set()


async def test_a_comparison_streaming_does_not_queue_the_prompt(server: Any) -> None:
    from loopback import stream_reply
    from test_ui_compare import MODELS, enter_compare_mode

    server.always("models", json_reply(MODELS))
    never = threading.Event()
    for model in ("model-a", "model-b"):
        chunks = sse_chunks([f"{model} says"], model=model, finish_reason=None, done=False)
        server.script(CHAT, stream_reply([*chunks, Hold(never)]), model=model)
    async with running(size=(120, 32)) as (app, pilot):
        told: list[str] = []
        notify = app.notify

        def recording(message: str, *args: Any, **kwargs: Any) -> None:
            told.append(message)
            notify(message, *args, **kwargs)

        app.notify = recording
        await enter_compare_mode(pilot, "model-b")
        await send(pilot, "Who are you?")
        await wait_until(pilot, lambda: app.chat.busy and len(sent_prompts(server)) == 2,
                         what="the comparison")
        await send(pilot, "not for a comparison")
        assert queue_view(app).rows == []
        assert app.chat.prompt.text == "not for a comparison"  # kept, not lost
        assert any("A comparison is streaming" in said for said in told)
        await pilot.press("escape")
        never.set()
