"""Pictures of sent images: asked for only by the lines that come on screen, drawn with
textual-image, and no picture library imported until then. A small app of attachment
lines (the chat screen answers PreviewWanted the same way, through the session)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest
from test_ui_attach import png
from textual import on
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll

from chatterm.attach_files import load_bytes
from chatterm.attachments import AttachmentLimits
from chatterm.ui.attach import graphics
from chatterm.ui.attach.message_parts import AttachmentList, ImageSlot, PreviewWanted

pytestmark = pytest.mark.slow


class Lines(App[None]):
    def __init__(self, count: int, *, previews: bool) -> None:
        super().__init__()
        self.blobs = [load_bytes(png(32 + n, 24, ), f"shot-{n}.png", AttachmentLimits())
                      for n in range(count)]
        self.previews = previews
        self.asked: list[str] = []

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            for blob in self.blobs:
                yield AttachmentList([blob.meta], previews=self.previews)

    @on(PreviewWanted)
    async def _wanted(self, event: PreviewWanted) -> None:
        slot = event.slot
        self.asked.append(slot.attachment.name)
        data = next(b.data for b in self.blobs if b.meta.sha256 == slot.attachment.sha256)
        picture = await asyncio.to_thread(graphics.prepare, data)
        slot.show_picture(graphics.picture_widget(picture, "kitty"))


async def until(pilot: Any, predicate: Any) -> None:
    for _ in range(500):
        if predicate():
            return
        await pilot.pause(0.01)
    raise AssertionError("timed out")


def test_no_picture_library_is_imported_by_the_chat() -> None:
    import subprocess

    code = ("import sys; import chatterm.ui.chat.screen, chatterm.ui.attach.message_parts; "
            "print([m for m in ('textual_image', 'PIL') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


async def test_only_the_lines_on_screen_ask_for_their_pictures() -> None:
    app = Lines(50, previews=True)
    async with app.run_test(size=(60, 12)) as pilot:
        await until(pilot, lambda: app.asked)
        await pilot.pause(0.2)
        asked = list(app.asked)
        # 12 rows show a handful of lines (and then their pictures), not 50.
        assert 1 <= len(asked) <= 12, asked
        assert asked[0] == "shot-0.png"
        await until(pilot, lambda: app.query(".attachment-picture"))
        picture = app.query(".attachment-picture").first()
        assert type(picture).__name__ == "TGPImage"
        assert picture.region.height <= graphics.PICTURE_ROWS
        # Scrolling to the end asks for the last ones; the middle ones never asked.
        app.query_one(VerticalScroll).scroll_end(animate=False)
        await until(pilot, lambda: "shot-49.png" in app.asked)
        assert len(app.asked) < 50


async def test_without_pictures_nothing_is_asked_and_the_line_says_it_all() -> None:
    app = Lines(3, previews=False)
    async with app.run_test(size=(60, 12)) as pilot:
        await pilot.pause(0.2)
        assert app.asked == []
        slots = list(app.query(ImageSlot).results(ImageSlot))
        assert len(slots) == 3 and slots[0].label == \
            f"image shot-0.png · {slots[0].attachment.size} B · 32×24"


async def test_the_chat_draws_the_pictures_of_its_images_through_the_session(
        loopback: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The chat screen's path: the line asks, the session gives the bytes (the engine's
    attachment_data, played here by a stand-in that knows one image: the store's side is
    tested with the store), the picture is mounted under the line; an image whose bytes
    are not at hand keeps its line and nothing breaks."""
    import os
    from pathlib import Path

    from test_ui_attach_snapshot import conversation
    from ui_helpers import LOOP_KEY, LOOP_KEY_ENV, running, screen_text, wait_until, write_config

    from chatterm.launch import OpenedConversation

    monkeypatch.setenv(LOOP_KEY_ENV, LOOP_KEY)
    monkeypatch.setenv("CHATTERM_IMAGES", "kitty")
    write_config(Path(os.environ["CHATTERM_CONFIG"]), loopback.url)
    chat = conversation()
    picture = load_bytes(png(64, 48), "screenshot.png", AttachmentLimits())
    chat.messages[2].attachments = [picture.meta, chat.messages[2].attachments[1]]
    from chatterm.attachments import AttachmentError
    from chatterm.engine.session import ChatSession

    asked: list[str] = []

    async def attachment_data(self: ChatSession, sha256: str) -> bytes:
        asked.append(sha256)
        if sha256 != picture.meta.sha256:
            raise AttachmentError(f"the bytes of attachment {sha256[:12]} are not at hand")
        return picture.data

    monkeypatch.setattr(ChatSession, "attachment_data", attachment_data)
    async with running() as (app, pilot):
        app.chat.open_conversation(OpenedConversation(chat))
        await wait_until(pilot, lambda: "A terminal, and a cat." in screen_text(app),
                         what="the chat")
        await wait_until(pilot, lambda: app.chat.query(".attachment-picture"),
                         what="the picture")
        pictures = app.chat.query(".attachment-picture")
        assert len(pictures) == 1  # photo.webp's bytes are nowhere: its line only
        assert sorted(asked) == sorted(a.sha256 for a in chat.messages[2].attachments)
        assert "image photo.webp · " in screen_text(app)
