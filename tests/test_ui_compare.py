"""Compare models in the app: the mode, the columns streaming side by side, Esc, keeping one.

Against the real engine and client and the loopback server, which routes each request by
the model its body names (the replies are requested at once, in any order).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest
from loopback import Delay, Hold, json_reply, sse_chunks, sse_reply, stream_reply
from ui_helpers import (
    LOOP_KEY,
    LOOP_KEY_ENV,
    make_app,
    running,
    screen_text,
    wait_until,
    write_config,
)

from chatterm.conversation import MessageState, Role
from chatterm.launch import LaunchOptions
from chatterm.store import Store

pytestmark = pytest.mark.slow

CHAT = "chat/completions"
MODELS = {"object": "list", "data": [{"id": m, "object": "model"}
                                     for m in ("model-a", "model-b", "model-c", "model-d")]}


@pytest.fixture
def server(loopback: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv(LOOP_KEY_ENV, LOOP_KEY)
    write_config(Path(os.environ["CHATTERM_CONFIG"]), loopback.url)
    loopback.always("models", json_reply(MODELS))
    return loopback


def compare_view(app: Any) -> Any:
    from chatterm.ui.compare.view import CompareView

    found = app.chat.message_list.query(CompareView)
    return found.first() if found else None


def column_text(app: Any, index: int) -> str:
    view = compare_view(app)
    return "" if view is None else view.columns[index].body.rendered_text()


async def enter_compare_mode(pilot: Any, *others: str) -> None:
    """F9, mark `others` beside the current model-a, Enter."""
    from chatterm.ui.pickers.multi_picker import CompareModelPicker

    app = pilot.app
    await pilot.press("f9")
    await wait_until(pilot, lambda: isinstance(app.screen, CompareModelPicker),
                     what="the multi-select picker")
    picker = app.screen
    for model in others:
        await pilot.press(*model)
        await wait_until(pilot, lambda m=model: picker.highlighted_model == m, what=model)
        await pilot.press("space")
    await pilot.press("enter")
    await wait_until(pilot, lambda: app.screen is app.chat, what="the chat again")


async def test_two_models_stream_side_by_side_esc_stops_both_keep_the_second(
    server: Any,
) -> None:
    never = threading.Event()  # neither reply ends by itself: Esc stops them
    fast = sse_chunks(["Alpha answers at once."], model="model-a", finish_reason=None,
                      done=False)
    slow = sse_chunks(["Beta ", "takes its time."], model="model-b", finish_reason=None,
                      done=False)
    server.script(CHAT, stream_reply([*fast, Hold(never)]), model="model-a")
    server.script(CHAT, stream_reply([Delay(0.3), slow[0], Delay(0.3), slow[1], Hold(never)]),
                  model="model-b")
    async with running(size=(120, 32)) as (app, pilot):
        await enter_compare_mode(pilot, "model-b")
        # The chat says it is in compare mode until the prompt is sent.
        assert "compare 2 models" in screen_text(app)
        app.chat.prompt.insert("Who are you?")
        await pilot.press("enter")
        await wait_until(pilot, lambda: compare_view(app) is not None, what="the columns")
        view = compare_view(app)
        assert "compare 2 models" not in screen_text(app)
        # Both stream at once, each in its own labelled column.
        await wait_until(pilot, lambda: "Alpha answers at once." in column_text(app, 0)
                         and "takes its time." in column_text(app, 1), what="both replies")
        assert [c.message.model for c in view.columns] == ["model-a", "model-b"]
        assert all(c.streaming for c in view.columns)
        assert view.columns[1].tokens == 2 and view.columns[0].tokens == 1
        left, right = (c.region for c in view.columns)
        assert left.y == right.y and left.right <= right.x  # side by side
        # Within the view: the last column's last cells are not cut off.
        assert right.right == view.content_region.right
        text = screen_text(app)
        assert "model-a" in text and "model-b" in text
        # Both requests carried the same prompt, each for its own model.
        models = sorted(r.json["model"] for r in server.requests if r.path.endswith(CHAT))
        assert models == ["model-a", "model-b"]

        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.chat.busy, what="both to stop")
        assert not any(c.streaming for c in view.columns)
        assert "⏸ interrupted" in str(view.columns[0].label())
        assert "⏸ interrupted" in str(view.columns[1].label())
        conversation_id = app.chat.conversation.id
        with Store.open() as store:
            tree = store.get_tree(conversation_id)
        stored = {m.model: m for m in tree.messages if m.role is Role.ASSISTANT}
        assert stored["model-a"].state is MessageState.INTERRUPTED
        assert stored["model-b"].state is MessageState.INTERRUPTED
        assert stored["model-a"].content == "Alpha answers at once."
        assert stored["model-b"].content == "Beta takes its time."

        # Keep the second: the columns, → and Enter.
        view.focus()
        await pilot.press("right", "enter")
        await wait_until(pilot, lambda: compare_view(app) is None, what="the single view")
        await wait_until(pilot, lambda: "Beta takes its time." in screen_text(app),
                         what="the kept reply")
        assert "Alpha answers at once." not in screen_text(app)
        # The other reply stays as a version of the kept one.
        await wait_until(pilot, lambda: "‹ 2/2 ›" in screen_text(app), what="the versions")
        assert app.chat.conversation.messages[-1].model == "model-b"
        assert app.focused is app.chat.prompt
        # The next replies come from the kept reply's model.
        await wait_until(pilot, lambda: "loop · model-b" in screen_text(app),
                         what="the kept model on the status line")
    with Store.open() as store:
        saved = store.get_conversation(conversation_id)
    assert saved.current_id == stored["model-b"].id
    assert [m.content for m in saved.messages] == ["Who are you?", "Beta takes its time."]
    # Relaunched, the chat shows the kept branch.
    async with running(LaunchOptions(resume_id=conversation_id), size=(120, 32)) as (
            app, pilot):
        await wait_until(pilot, lambda: "Beta takes its time." in screen_text(app)
                         and "‹ 2/2 ›" in screen_text(app),
                         what="the kept reply after relaunch, with its other version")
        assert "Alpha answers at once." not in screen_text(app)


async def test_esc_cancels_compare_mode_and_the_next_prompt_goes_to_one_model(
    server: Any,
) -> None:
    server.script(CHAT, sse_reply(["Just A."], model="model-a"))
    async with running() as (app, pilot):
        await enter_compare_mode(pilot, "model-b")
        assert app.chat.compare.pending
        assert "compare 2 models" in screen_text(app)
        await pilot.press("escape")
        assert not app.chat.compare.pending
        await wait_until(pilot, lambda: "loop · model-a" in screen_text(app),
                         what="the model again on the status line")
        assert "compare mode cancelled" in app.chat.status.text
        app.chat.prompt.insert("Only you")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not app.chat.busy and "Just A." in screen_text(app),
                         what="the single reply")
        assert compare_view(app) is None
        assert [r.json["model"] for r in server.requests if r.path.endswith(CHAT)] == [
            "model-a"]


async def test_at_40_columns_the_replies_are_stacked_and_a_click_keeps_one(
    server: Any,
) -> None:
    server.script(CHAT, sse_reply(["From A."], model="model-a"), model="model-a")
    server.script(CHAT, sse_reply(["From C."], model="model-c"), model="model-c")
    async with running(size=(40, 40)) as (app, pilot):
        await enter_compare_mode(pilot, "model-c")
        app.chat.prompt.insert("Hello")
        await pilot.press("enter")
        await wait_until(pilot, lambda: compare_view(app) is not None
                         and not app.chat.busy, what="both replies")
        view = compare_view(app)
        await wait_until(pilot, lambda: view.stacked, what="stacked columns")
        top, bottom = (c.region for c in view.columns)
        assert bottom.y >= top.bottom and top.width > 30  # one above the other, full width
        await wait_until(pilot, lambda: "From C." in screen_text(app)
                         and "[keep]" in screen_text(app), what="the keep links")
        # Sending on without keeping one goes on from the first model's reply; here
        # a click on the second column's [keep] keeps it instead.
        label = view.columns[1].query_one(".compare-label")
        keep_at = str(view.columns[1].label()).index("[keep]")
        view.columns[1].scroll_visible(animate=False)
        await pilot.pause()
        await pilot.click(label, offset=(keep_at + 1, 0))
        await wait_until(pilot, lambda: compare_view(app) is None, what="the kept reply")
        assert app.chat.conversation.messages[-1].content == "From C."


async def test_four_models_stream_and_keys_still_reach_the_prompt(server: Any) -> None:
    # Four long replies at once: typing goes on meanwhile, and each column counts its own.
    holds = {}
    for model in ("model-a", "model-b", "model-c", "model-d"):
        hold = holds[model] = threading.Event()
        words = [f"{model} word {i} " for i in range(200)]
        server.script(CHAT, sse_reply(words, hold=hold, model=model), model=model)
    async with running(size=(120, 40)) as (app, pilot):
        await enter_compare_mode(pilot, "model-b", "model-c", "model-d")
        app.chat.prompt.insert("Race")
        await pilot.press("enter")
        await wait_until(pilot, lambda: compare_view(app) is not None, what="the columns")
        view = compare_view(app)
        assert not view.stacked  # 4 columns of 26 or more fit in 120
        for hold in holds.values():
            hold.set()
        await pilot.press(*"next one")
        assert app.chat.prompt.text == "next one"
        await wait_until(pilot, lambda: not app.chat.busy, what="all four", timeout=30)
        assert [c.tokens for c in view.columns] == [200, 200, 200, 200]
        assert all("word 199" in column_text(app, i) for i in range(4))


def test_columns_snapshot(server: Any, snap_compare: Any,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    from chatterm.ui.chat import status_bar

    monkeypatch.setattr(status_bar, "clock", lambda: 1000.0)
    server.script(CHAT, sse_reply(["**Go** is quicker to learn."], model="model-a",
                                  usage={"prompt_tokens": 7, "completion_tokens": 6}),
                  model="model-a")
    server.script(CHAT, sse_reply(["Rust takes longer,\n\n", "- but its compiler teaches"],
                                  model="model-b",
                                  usage={"prompt_tokens": 7, "completion_tokens": 9}),
                  model="model-b")
    app = make_app()
    app.state.opened.conversation.id = "c0a1000000000000000000000000000c"

    async def run_before(pilot: Any) -> None:
        await wait_until(pilot, lambda: pilot.app.chat.query("#prompt"), what="the prompt")
        await enter_compare_mode(pilot, "model-b")
        app.chat.prompt.insert("Rust or Go?")
        await pilot.press("enter")
        await wait_until(pilot, lambda: compare_view(app) is not None and not app.chat.busy,
                         what="both replies")
        await wait_until(pilot, lambda: "compiler teaches" in screen_text(app),
                         what="the last line")
        for box in app.screen.query("Input, TextArea"):
            box.cursor_blink = False
        await pilot.pause(0.1)

    try:
        assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)
    finally:
        app.store.close()



async def test_a_model_that_fails_shows_its_error_in_its_column_the_other_goes_on(
    server: Any,
) -> None:
    server.script(CHAT, sse_reply(["A is fine."], model="model-a"), model="model-a")
    server.script(CHAT, json_reply({"error": {"message": "The model `model-b` does not exist",
                                              "type": "invalid_request_error"}}, status=404),
                  model="model-b")
    async with running(size=(120, 32)) as (app, pilot):
        await enter_compare_mode(pilot, "model-b")
        app.chat.prompt.insert("Try both")
        await pilot.press("enter")
        await wait_until(pilot, lambda: compare_view(app) is not None and not app.chat.busy,
                         what="both to end")
        view = compare_view(app)
        await wait_until(pilot, lambda: "A is fine." in column_text(app, 0), what="A's text")
        assert "✗ error" in str(view.columns[1].label())
        await wait_until(pilot, lambda: "HTTP 404 Not Found" in screen_text(app),
                         what="B's error, in its column")
        assert "Traceback" not in screen_text(app)
        # A reply that failed before any text has nothing to keep: one line says so.
        assert "[keep]" not in str(view.columns[1].label())
        view.focus()
        await pilot.press("right", "enter")
        await wait_until(pilot, lambda: "keep another" in screen_text(app), what="the refusal")
        assert compare_view(app) is view
        # The working reply can be kept.
        await pilot.press("left", "enter")
        await wait_until(pilot, lambda: compare_view(app) is None, what="the kept reply")
        assert app.chat.conversation.messages[-1].content == "A is fine."


async def test_a_provider_without_its_key_stops_the_comparison_before_anything_is_sent(
    server: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_config(Path(os.environ["CHATTERM_CONFIG"]), server.url,
                 extra='[providers.other]\nbase_url = "http://127.0.0.1:9/v1"\n'
                       'api_key_env = "OTHER_KEY_NOT_SET"\n')
    monkeypatch.delenv("OTHER_KEY_NOT_SET", raising=False)
    from chatterm.ui.pickers.multi_picker import CompareModelPicker

    async with running(size=(120, 32)) as (app, pilot):
        await pilot.press("f9")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareModelPicker),
                         what="the picker")
        picker = app.screen
        while picker.viewing != "other":
            await pilot.press("tab")
        await pilot.press(*"their-model")
        await pilot.press("space", "enter")
        await wait_until(pilot, lambda: app.screen is app.chat, what="the chat")
        app.chat.prompt.insert("Hello both")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "OTHER_KEY_NOT_SET" in app.chat.status.text,
                         what="one line naming the missing key")
        # Nothing was sent or saved; the prompt and the mode are back to try again.
        assert compare_view(app) is None
        assert app.chat.prompt.text == "Hello both"
        assert app.chat.compare.pending
        assert not [r for r in server.requests if r.path.endswith(CHAT)]
        assert not app.chat.opened.saved


async def test_a_comparison_streams_on_while_another_chat_is_open_and_quitting_keeps_it(
    server: Any,
) -> None:
    holds = {m: threading.Event() for m in ("model-a", "model-b")}
    for model, hold in holds.items():
        server.script(CHAT, sse_reply([f"{model} begins ", "and ends."], hold=hold,
                                      model=model), model=model)
    try:
        async with running(size=(120, 32)) as (app, pilot):
            await enter_compare_mode(pilot, "model-b")
            app.chat.prompt.insert("Go on, both")
            await pilot.press("enter")
            await wait_until(pilot, lambda: "model-b begins" in column_text(app, 1)
                             and "model-a begins" in column_text(app, 0), what="both started")
            first = app.chat.conversation.id
            await pilot.press("ctrl+n")
            await wait_until(pilot, lambda: app.chat.conversation.id != first,
                             what="a new chat")
            assert first in app.chat.replies.live.streaming_ids()
            assert compare_view(app) is None
            # Back: the columns again, with what had arrived, and the rest live.
            app.chat.open_saved(first)
            await wait_until(pilot, lambda: compare_view(app) is not None
                             and "model-b begins" in column_text(app, 1), what="the columns")
            holds["model-a"].set()
            await wait_until(pilot, lambda: "and ends." in column_text(app, 0),
                             what="model-a's end, live")
            assert app.chat.busy
            await pilot.press("ctrl+q")
            await wait_until(pilot, lambda: not app.is_running, what="the app to exit")
    finally:
        for hold in holds.values():
            hold.set()
    with Store.open() as store:
        tree = store.get_tree(first)
    stored = {m.model: m for m in tree.messages if m.role is Role.ASSISTANT}
    assert stored["model-a"].state is MessageState.COMPLETE
    assert stored["model-b"].content == "model-b begins "
    assert stored["model-b"].state is MessageState.INTERRUPTED


async def test_compare_models_from_the_palette_and_a_refused_pick(server: Any) -> None:
    from textual.command import CommandPalette

    from chatterm.ui.pickers.multi_picker import CompareModelPicker

    async with running() as (app, pilot):
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette),
                         what="the palette")
        await pilot.press(*"compare models")
        await wait_until(pilot, lambda: "Compare models" in screen_text(app), what="the entry")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareModelPicker),
                         what="the multi-select picker")
        # One model is not a comparison: one line, and the picker stays.
        await pilot.press("enter")
        await wait_until(pilot, lambda: "mark at least 2 to compare" in screen_text(app),
                         what="the refusal")
        assert isinstance(app.screen, CompareModelPicker)
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.chat, what="the chat")
        assert not app.chat.compare.pending


async def test_when_every_model_fails_the_columns_say_so_and_offer_nothing_to_keep(
    server: Any,
) -> None:
    for model in ("model-a", "model-b"):
        server.script(CHAT, json_reply({"error": {"message": f"{model} is down"}}, status=400),
                      model=model)
    async with running(size=(120, 32)) as (app, pilot):
        await enter_compare_mode(pilot, "model-b")
        app.chat.prompt.insert("Anyone?")
        await pilot.press("enter")
        await wait_until(pilot, lambda: compare_view(app) is not None and not app.chat.busy,
                         what="both to fail")
        await wait_until(pilot, lambda: "no model gave a reply" in screen_text(app),
                         what="the columns' title")
        assert "every model failed" in app.chat.status.text
        assert "[keep]" not in screen_text(app)
        assert "model-a is down" in screen_text(app) and "model-b is down" in screen_text(app)


async def test_a_reasoning_model_s_column_says_it_is_reasoning_until_its_answer_comes(
    server: Any,
) -> None:
    thought = threading.Event()
    server.script(CHAT, sse_reply(["Quick."], model="model-a"), model="model-a")
    server.script(CHAT, stream_reply([
        *sse_chunks([], model="model-b", reasoning=["Let me think. "], finish_reason=None,
                    done=False),
        Hold(thought), *sse_chunks(["Thought it over."], model="model-b")]), model="model-b")
    try:
        async with running(size=(120, 32)) as (app, pilot):
            await enter_compare_mode(pilot, "model-b")
            app.chat.prompt.insert("Think")
            await pilot.press("enter")
            await wait_until(pilot, lambda: compare_view(app) is not None
                             and "reasoning…" in str(compare_view(app).columns[1].label()),
                             what="the reasoning state")
            thought.set()
            await wait_until(pilot, lambda: not app.chat.busy, what="both replies")
            view = compare_view(app)
            assert "reasoning…" not in str(view.columns[1].label())
            assert "Thought it over." in column_text(app, 1)
            view.focus()
            await pilot.press("right", "enter")
            await wait_until(pilot, lambda: compare_view(app) is None, what="the kept reply")
            # Kept, the reply shows its reasoning (folded), as any reply does.
            await wait_until(pilot, lambda: "Reasoning" in screen_text(app),
                             what="the folded reasoning")
    finally:
        thought.set()


async def test_an_empty_complete_reply_says_empty_in_the_chat_and_in_its_column(
        server: Any) -> None:
    """qa12 #9: a reply that finished with no text showed only its header, as if lost."""
    server.script(CHAT, sse_reply(["A has words."], model="model-a"), model="model-a")
    server.script(CHAT, sse_reply([], model="model-b"), model="model-b")
    server.script(CHAT, sse_reply([], model="model-b"), model="model-b")
    async with running(size=(120, 32)) as (app, pilot):
        await enter_compare_mode(pilot, "model-b")
        app.chat.prompt.insert("Try both")
        await pilot.press("enter")
        await wait_until(pilot, lambda: compare_view(app) is not None and not app.chat.busy,
                         what="both to end")
        view = compare_view(app)
        await wait_until(pilot, lambda: "(empty)" in str(view.columns[1].label()),
                         what=f"B's column to say (empty): {view.columns[1].label()!r}")
        assert "(empty)" not in str(view.columns[0].label())
        # Kept, the empty reply says so in the chat too.
        view.focus()
        await pilot.press("right", "enter")
        await wait_until(pilot, lambda: compare_view(app) is None, what="the kept reply")
        await wait_until(pilot, lambda: "(empty)" in screen_text(app), what="(empty) in the chat")


async def test_a_column_s_token_count_catches_up_with_its_words_when_the_stream_pauses(
        server: Any) -> None:
    """qa12 #9: the count redraws at most twice a second with the frames that draw text;
    three words arriving within that half second and then a pause left `1 token`."""
    hold = threading.Event()
    chunks = sse_chunks(["one ", "two ", "three"], model="model-a")
    # Drawn one by one (a read each), all three within the half second.
    steps = [chunks[0], Delay(0.1), chunks[1], Delay(0.1), chunks[2], Hold(hold), *chunks[3:]]
    server.script(CHAT, stream_reply(steps), model="model-a")
    server.script(CHAT, sse_reply(["B."], model="model-b", hold=hold), model="model-b")
    async with running(size=(120, 32)) as (app, pilot):
        try:
            await enter_compare_mode(pilot, "model-b")
            app.chat.prompt.insert("Count")
            await pilot.press("enter")
            await wait_until(pilot, lambda: "one two three" in column_text(app, 0),
                             what="A's three words")
            view = compare_view(app)
            assert view.columns[0].tokens == 3
            # As drawn on screen (the label is made again only when it is redrawn).
            await wait_until(pilot, lambda: "model-a  loop  3 tokens" in screen_text(app),
                             what="the count on screen to catch up")
        finally:
            hold.set()
        await wait_until(pilot, lambda: not app.chat.busy, what="the end")
