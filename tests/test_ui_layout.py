"""The screen's layout at every size: the sidebar beside or over the chat, the footer, the
status line and where notifications go (Pilot, real app, real store)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from ui_helpers import LOOP_KEY, LOOP_KEY_ENV, running, screen_text, wait_until, write_config

from chatterm.conversation import Conversation, Message, Role
from chatterm.launch import LaunchOptions
from chatterm.store import Store

pytestmark = pytest.mark.slow

LONG = " ".join(f"word{i}" for i in range(120))


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing is sent in these tests: the URL only has to be well formed.
    monkeypatch.setenv(LOOP_KEY_ENV, LOOP_KEY)
    write_config(Path(os.environ["CHATTERM_CONFIG"]), "http://127.0.0.1:9/v1")


def seed_reply(title: str = "layout", model: str = "model-a") -> str:
    conversation = Conversation(provider="loop", model=model, title=title)
    conversation.messages = [
        Message(role=Role.USER, content="say many words", conversation_id=conversation.id),
        Message(role=Role.ASSISTANT, content=LONG, model=model, provider="loop",
                conversation_id=conversation.id),
    ]
    with Store.open() as store:
        store.create_conversation(conversation)
    return conversation.id


def reply_body(app: Any) -> Any:
    from chatterm.ui.chat.assistant_view import AssistantMessage
    from chatterm.ui.markdown.streaming import StreamingMarkdown

    views = [v for v in app.chat.message_list.views() if isinstance(v, AssistantMessage)]
    return views[-1].query_one(StreamingMarkdown)


async def settle(pilot: Any, width: int, height: int = 30) -> None:
    await pilot.resize_terminal(width, height)
    await wait_until(pilot, lambda: pilot.app.size.width == width, what=f"width {width}")
    await pilot.pause()
    await pilot.pause()


def widest_reply_line(app: Any) -> int:
    return max(len(line.rstrip()) for line in reply_body(app).rendered_lines())


# ---- the sidebar -------------------------------------------------------------------------


@pytest.mark.parametrize("width", [40, 60, 89, 90, 120])
async def test_the_sidebar_never_squeezes_the_chat(configured: None, width: int) -> None:
    conversation_id = seed_reply()
    async with running(LaunchOptions(resume_id=conversation_id), size=(width, 30)) as (
            app, pilot):
        await pilot.press("ctrl+b")
        await wait_until(pilot, lambda: app.chat.sidebar is not None
                         and "layout" in screen_text(app), what="the sidebar")
        await pilot.pause()
        chat = app.chat.query_one("#chat").region
        slot = app.chat.query_one("#sidebar-slot").region
        if width < 90:
            # Over the chat, which keeps the whole width (and its wrapping).
            assert chat.x == 0 and chat.width == width
            assert slot.x == 0 and slot.width == min(36, width)
        else:
            # Beside it, leaving the chat at least 54 columns.
            assert chat.x == slot.right and chat.width == width - 36 >= 54
        # The sidebar's own text is drawn, and the reply keeps lines of readable length.
        assert "Search all chats" in screen_text(app)
        assert widest_reply_line(app) >= min(30, chat.width - 10)


async def test_closing_the_sidebar_and_widening_rewraps_the_reply(configured: None) -> None:
    """The report: at 40 columns with the sidebar open the chat was 4 columns wide, and
    after closing it and widening the reply was drawn one character per line."""
    conversation_id = seed_reply()
    async with running(LaunchOptions(resume_id=conversation_id), size=(120, 30)) as (
            app, pilot):
        await wait_until(pilot, lambda: "word119" in screen_text(app), what="the reply")
        await pilot.press("ctrl+b")
        await wait_until(pilot, lambda: app.chat.sidebar is not None, what="the sidebar")
        for width in (40, 120, 40):  # resized with the sidebar open
            await settle(pilot, width)
            assert app.chat.query_one("#chat").region.width == (width if width < 90
                                                                else width - 36)
        assert widest_reply_line(app) > 25
        await pilot.press("ctrl+b")
        await wait_until(pilot, lambda: not app.chat.query_one("#sidebar-slot").display,
                         what="the sidebar to close")
        await settle(pilot, 120)
        body = reply_body(app)
        assert widest_reply_line(app) > body.size.width - 12
        assert "word0" in screen_text(app) or "word119" in screen_text(app)


async def test_choosing_a_chat_in_the_overlay_closes_it(configured: None) -> None:
    seed_reply("other chat")
    async with running(size=(50, 30)) as (app, pilot):
        await pilot.press("ctrl+b")
        await wait_until(pilot, lambda: "other chat" in screen_text(app), what="the list")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.chat.conversation.title == "other chat",
                         what="the chat to open")
        await wait_until(pilot, lambda: not app.chat.query_one("#sidebar-slot").display,
                         what="the overlay to close")
        assert app.chat.query_one("#chat").region.width == 50


# ---- the footer --------------------------------------------------------------------------


def footer_lines(app: Any) -> list[str]:
    from textual.widgets import Footer

    footer = app.chat.query_one(Footer)
    lines = screen_text(app).splitlines()
    return lines[footer.region.y:footer.region.bottom]


def shown_labels(app: Any) -> list[str]:
    """Every "key label" the footer ought to show, in the registry's order (the footer
    sorts by it: the chat screen's keys and the app's come from two binding maps)."""
    from chatterm.keymap import ORDER

    bindings = []
    seen: set[str] = set()
    for _node, binding, _enabled, _tip in app.chat.active_bindings.values():
        if binding.show and binding.action not in seen:
            seen.add(binding.action)
            bindings.append(binding)
    bindings.sort(key=lambda binding: ORDER.get(binding.action, len(ORDER)))
    return [f"{app.get_key_display(binding)} {binding.description}" for binding in bindings]


async def footer_ready(app: Any, pilot: Any) -> None:
    from textual.widgets import Footer

    await wait_until(pilot, lambda: app.chat.query(Footer)
                     and "^p" in "".join(footer_lines(app)), what="the footer")


async def test_the_footer_shows_every_binding_at_120_columns(configured: None) -> None:
    async with running(size=(120, 40)) as (app, pilot):
        await footer_ready(app, pilot)
        text = "\n".join(footer_lines(app))
        labels = shown_labels(app)
        assert {"f5 Params", "f8 Delete", "^s Export"} <= set(labels)
        missing = [label for label in labels if label not in text]
        assert missing == [], text
        assert "^p palette" in text and "more keys" not in text


@pytest.mark.parametrize("width", [40, 60, 80])
async def test_a_narrow_footer_shows_what_fits_and_says_how_to_see_the_rest(
        configured: None, width: int) -> None:
    async with running(size=(width, 24)) as (app, pilot):
        await footer_ready(app, pilot)
        lines = footer_lines(app)
        text = "\n".join(lines)
        labels = shown_labels(app)
        shown = [label for label in labels if label in text]
        # The most important keys first, each label whole, then the count of the rest.
        assert shown == labels[:len(shown)] and len(shown) >= 3
        hidden = len(labels) - len(shown)
        assert hidden > 0
        assert f"^p {hidden} more keys" in text
        assert len(lines) <= 2 and all(len(line.rstrip()) <= width for line in lines)


async def test_the_footer_is_laid_out_again_after_a_resize(configured: None) -> None:
    async with running(size=(120, 30)) as (app, pilot):
        await footer_ready(app, pilot)
        for width in (40, 120):
            await settle(pilot, width)
            await wait_until(pilot, lambda w=width: ("more keys" in "".join(footer_lines(app)))
                             == (w < 100), what=f"the footer at {width}")
        text = "\n".join(footer_lines(app))
        assert all(label in text for label in shown_labels(app))


# ---- the status line and notifications ---------------------------------------------------


async def test_long_status_text_ends_in_an_ellipsis_before_the_model_label(
        configured: None) -> None:
    async with running(size=(120, 30)) as (app, pilot):
        await pilot.press("ctrl+b")
        await wait_until(pilot, lambda: app.chat.sidebar is not None, what="the sidebar")
        status = app.chat.status
        status.show_note("a very long note " * 10 + "THE-END")
        await pilot.pause()
        await pilot.pause()
        line = screen_text(app).splitlines()[status.region.y]
        chat_part = line[status.region.x:status.region.right]
        assert chat_part.rstrip().endswith("loop · model-a")
        before_model = chat_part[:chat_part.rindex("loop · model-a")].rstrip()
        assert before_model.endswith("…"), chat_part
        assert "THE-END" not in chat_part
        # A gap of at least two columns between the two.
        assert chat_part[len(before_model):len(before_model) + 2] == "  "


async def test_notifications_never_cover_the_prompt(configured: None) -> None:
    from textual.widgets._toast import Toast
    from ui_helpers import make_app

    app = make_app()
    try:
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await pilot.pause()
            for number in range(3):
                app.notify(f"notification number {number} " * 3)
            await wait_until(pilot, lambda: len(app.chat.query(Toast)) == 3
                             and all(t.region.height for t in app.chat.query(Toast)),
                             what="three toasts")
            chat = app.chat
            covered = [chat.prompt.region, chat.status.region,
                       chat.query_one("#title-bar").region]
            for toast in chat.query(Toast):
                assert not any(toast.region.overlaps(region) for region in covered), (
                    toast.region, covered)
            assert "notification number 2" in screen_text(app)
    finally:
        if app.store is not None:
            app.store.close()
