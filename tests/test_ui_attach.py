"""Attachments in the app: Ctrl+A (completion, the tree, the error line), the chips above
the prompt (Backspace, a click on ✕, cleared by a send, kept by a failed one), a pasted
path (attach, keep the text), the question before an image goes to a model not known to
take images, and the lines a sent prompt's attachments get. The real app headless, the
loopback server for what is sent."""

from __future__ import annotations

import base64
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from loopback import sse_reply
from textual import events
from ui_helpers import LOOP_KEY, LOOP_KEY_ENV, running, screen_text, wait_until, write_config

pytestmark = pytest.mark.slow


CHAT = "chat/completions"


def png(width: int, height: int) -> bytes:
    """A real (tiny, grey) PNG of that size."""
    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height,
                                                              8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture
def server(loopback: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv(LOOP_KEY_ENV, LOOP_KEY)
    write_config(Path(os.environ["CHATTERM_CONFIG"]), loopback.url,
                 extra="[attachments]\nmax_text_bytes = 1000\nmax_count = 3\n")
    return loopback


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "notes.md").write_text("# Notes\nhello\n", encoding="utf-8")
    (folder / "notebook.txt").write_text("other\n", encoding="utf-8")
    (folder / "shot.png").write_bytes(png(40, 30))
    (folder / "big.txt").write_text("x" * 2000, encoding="utf-8")
    (folder / "blob.bin").write_bytes(b"\x00\x01\x02binary")
    (folder / "four.txt").write_text("4\n", encoding="utf-8")
    (folder / "sub").mkdir()
    monkeypatch.chdir(folder)
    return folder


def notices(app: Any) -> list[str]:
    return [str(notification.message) for notification in app._notifications]


def dialog(app: Any) -> Any:
    from chatterm.ui.attach.dialog import AttachDialog

    screen = app.screen
    return screen if isinstance(screen, AttachDialog) else None


async def attach_by_path(app: Any, pilot: Any, path: str) -> None:
    await pilot.press("ctrl+a")
    await wait_until(pilot, lambda: dialog(app) is not None, what="the attach dialog")
    field = dialog(app).query_one("#attach-path")
    field.value = path
    before = len(app.chat.attachments.tray.pending)
    await pilot.press("enter")
    await wait_until(pilot, lambda: len(app.chat.attachments.tray.pending) == before + 1,
                     what=f"the chip of {path}")


async def test_ctrl_a_completes_picks_in_the_tree_and_says_what_is_wrong(
        server: Any, files: Path) -> None:
    async with running() as (app, pilot):
        await pilot.press("ctrl+a")
        await wait_until(pilot, lambda: dialog(app) is not None, what="the attach dialog")
        box = dialog(app)
        await pilot.press(*"no", "tab")  # as far as notes.md and notebook.txt agree
        assert box.path_text == "note"
        assert "notebook.txt" in box.matches_text and "notes.md" in box.matches_text
        await pilot.press("s", "tab")
        assert box.path_text == "notes.md"
        # Missing, too big, not a kind that can be sent: one line each, the dialog stays.
        for path, words in [("gone.md", "no such file"),
                            ("big.txt", "attachments.max_text_bytes"),
                            ("blob.bin", "NUL")]:
            box.query_one("#attach-path").value = path
            await pilot.press("enter")
            await wait_until(pilot, lambda: box.error_text, what=f"the error for {path}")
            assert words in box.error_text and "\n" not in box.error_text
            assert dialog(app) is box
        # A folder's path: the tree goes there, the field gets its slash.
        box.query_one("#attach-path").value = str(files / "sub")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "a folder" in box.error_text, what="the folder line")
        assert box.path_text == str(files / "sub") + "/"
        assert str(box.query_one("#attach-tree").path) == str(files / "sub")
        box.query_one("#attach-tree").path = files
        # ↓ into the tree; Enter on a file there attaches it.
        await pilot.press("down")
        tree = box.query_one("#attach-tree")
        assert app.focused is tree
        await wait_until(pilot, lambda: tree.root.children, what="the tree's files")
        labels = [str(node.label) for node in tree.root.children]
        target = labels.index("shot.png")
        tree.move_cursor(tree.root.children[target])
        await pilot.press("enter")
        await wait_until(pilot, lambda: dialog(app) is None, what="the dialog to close")
        tray = app.chat.attachments.tray
        assert len(tray.chips) == 1
        assert tray.chips[0].startswith("shot.png ") and tray.chips[0].endswith(" 40×30")
        assert app.focused is app.chat.prompt
        assert "shot.png" in screen_text(app)


async def test_tilde_is_expanded(server: Any, files: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(files))
    async with running() as (app, pilot):
        await pilot.press("ctrl+a")
        await wait_until(pilot, lambda: dialog(app) is not None, what="the attach dialog")
        await pilot.press(*"~/notes", "tab")
        assert dialog(app).path_text == "~/notes.md"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.chat.attachments.tray.chips, what="the chip")
        assert app.chat.attachments.tray.chips[0].startswith("notes.md ")


async def test_chips_go_by_backspace_and_by_a_click_on_their_cross(
        server: Any, files: Path) -> None:
    async with running(size=(100, 30)) as (app, pilot):
        for name in ("notes.md", "notebook.txt", "shot.png"):
            await attach_by_path(app, pilot, name)
        tray = app.chat.attachments.tray
        assert [chip.split()[0] for chip in tray.chips] == ["notes.md", "notebook.txt",
                                                             "shot.png"]
        # A fourth is over max_count = 3: one line, the chips as they were.
        await pilot.press("ctrl+a")
        await wait_until(pilot, lambda: dialog(app) is not None, what="the dialog")
        dialog(app).query_one("#attach-path").value = "four.txt"
        await pilot.press("enter")
        await wait_until(pilot, lambda: any("max_count" in n for n in notices(app)),
                         what="the max_count line")
        assert len(tray.chips) == 3
        assert app.focused is app.chat.prompt
        # Backspace in an empty prompt removes the last chip.
        await pilot.press("backspace")
        assert [chip.split()[0] for chip in tray.chips] == ["notes.md", "notebook.txt"]
        # Backspace in a prompt with text is only a backspace.
        await pilot.press("x", "backspace", "x")
        assert len(tray.chips) == 2 and app.chat.prompt.text == "x"
        # A click on the first chip's ✕.
        text = screen_text(app)
        row = next(y for y, line in enumerate(text.splitlines()) if "notes.md" in line)
        column = text.splitlines()[row].index("✕")
        await pilot.click(offset=(column, row))
        await wait_until(pilot, lambda: len(tray.chips) == 1, what="the click to remove it")
        assert tray.chips[0].startswith("notebook.txt")
        # The prompt has the focus again: typing goes there, Backspace is the prompt's (F4).
        await wait_until(pilot, lambda: app.focused is app.chat.prompt, what="prompt after ✕")
        await pilot.press("h", "i", "backspace")
        assert app.chat.prompt.text == "xh" and len(tray.chips) == 1
        # The tray itself: Shift+Tab from the prompt, Backspace removes the picked chip;
        # a letter typed there goes to the prompt.
        app.chat.prompt.clear()
        await pilot.pause()
        await pilot.press("shift+tab")
        assert app.focused is tray
        await pilot.press("h")
        assert app.focused is app.chat.prompt and app.chat.prompt.text == "h"
        await pilot.press("shift+tab")
        assert app.focused is tray
        await pilot.press("backspace")
        assert tray.chips == []
        await wait_until(pilot, lambda: app.focused is app.chat.prompt, what="back to prompt")


async def test_a_send_carries_the_chips_and_clears_them(server: Any, files: Path) -> None:
    server.script(CHAT, sse_reply(["Nice notes."]))
    async with running() as (app, pilot):
        await attach_by_path(app, pilot, "notes.md")
        await pilot.press(*"what is this?", "enter")
        await wait_until(pilot, lambda: server.requests, what="the request")
        content = server.requests[0].json["messages"][-1]["content"]
        assert content.startswith("what is this?") and "notes.md" in content
        assert "# Notes\nhello\n" in content
        tray = app.chat.attachments.tray
        await wait_until(pilot, lambda: tray.chips == [], what="the chips cleared")
        # The sent prompt lists its attachment.
        await wait_until(pilot, lambda: "file notes.md · " in screen_text(app),
                         what="the sent prompt's attachment line")


async def test_a_failed_send_keeps_the_chips(server: Any, files: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LOOP_KEY_ENV)  # no key: nothing is sent
    async with running() as (app, pilot):
        await wait_until(pilot, lambda: app.screen is not app.chat, what="the key dialog")
        await pilot.press("escape")  # later
        await wait_until(pilot, lambda: app.screen is app.chat, what="the chat")
        app.chat.prompt.focus()
        await attach_by_path(app, pilot, "notes.md")
        await pilot.press(*"hello", "enter")
        tray = app.chat.attachments.tray
        await wait_until(pilot, lambda: app.chat.prompt.text == "hello",
                         what="the text given back")
        assert [chip.split()[0] for chip in tray.chips] == ["notes.md"]
        assert server.requests == []


async def test_an_image_to_a_model_not_known_to_take_images_asks_first(
        server: Any, files: Path) -> None:
    from chatterm.ui.dialogs.confirm import ConfirmDialog

    server.script(CHAT, sse_reply(["A grey square."]))
    async with running() as (app, pilot):
        await attach_by_path(app, pilot, "shot.png")
        await pilot.press(*"look", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog),
                         what="the question")
        assert "not known to take images" in app.screen.question
        await pilot.press("n")  # cancel: nothing sent, the chip and the text stay
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmDialog),
                         what="the dialog closed")
        assert server.requests == [] and len(app.chat.attachments.tray.chips) == 1
        assert app.chat.prompt.text == "look"
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog),
                         what="the question again")
        await pilot.press("y")  # send anyway
        await wait_until(pilot, lambda: server.requests, what="the request")
        parts = server.requests[0].json["messages"][-1]["content"]
        assert parts[0] == {"type": "text", "text": "look"}
        url = parts[1]["image_url"]["url"]
        assert base64.b64decode(url.removeprefix("data:image/png;base64,")) == \
            (files / "shot.png").read_bytes()
        await wait_until(pilot, lambda: "image shot.png · " in screen_text(app),
                         what="the sent image's line")
        assert "40×30" in screen_text(app)


async def test_a_pasted_path_offers_to_attach_and_no_keeps_the_text(
        server: Any, files: Path) -> None:
    from chatterm.ui.dialogs.confirm import ConfirmDialog

    async with running() as (app, pilot):
        prompt = app.chat.prompt
        pasted = "'" + str(files / "notes.md") + "'"
        app.post_message(events.Paste(pasted))
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog),
                         what="the offer")
        assert "notes.md" in app.screen.question
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is app.chat, what="the offer gone")
        assert prompt.text == pasted and app.chat.attachments.tray.chips == []
        # Accepted: a chip, and the path goes from the prompt (the words around it stay).
        prompt.load_text("see ")
        prompt.move_cursor(prompt.document.end)
        dropped = "file://" + str(files / "shot.png")
        app.post_message(events.Paste(dropped))
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog),
                         what="the offer")
        await pilot.press("y")
        await wait_until(pilot, lambda: app.chat.attachments.tray.chips, what="the chip")
        assert app.chat.attachments.tray.chips[0].startswith("shot.png ")
        assert prompt.text == "see "
        # Prose is never offered.
        app.post_message(events.Paste("hello there"))
        await pilot.pause(0.2)
        assert app.screen is app.chat and prompt.text.endswith("hello there")


async def test_the_apps_json_export_carries_the_attachments_bytes(
        server: Any, files: Path, tmp_path: Path) -> None:
    import json

    from chatterm.ui.dialogs.export import ExportDialog

    server.script(CHAT, sse_reply(["Read it."]))
    async with running() as (app, pilot):
        await attach_by_path(app, pilot, "notes.md")
        await pilot.press(*"read", "enter")
        await wait_until(pilot, lambda: server.requests and not app.chat.busy,
                         what="the reply")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ExportDialog), what="export")
        await pilot.press("ctrl+t")  # JSON
        out = tmp_path / "out.json"
        app.screen.query_one("#export-path").value = str(out)
        await pilot.press("enter")
        await wait_until(pilot, out.exists, what="the export")
    exported = json.loads(out.read_text(encoding="utf-8"))
    (entry,) = exported["attachments"]
    assert base64.b64decode(entry["data"]) == (files / "notes.md").read_bytes()


async def test_a_comparison_asks_about_the_models_not_known_to_take_images(
        server: Any, files: Path) -> None:
    from chatterm.ui.dialogs.confirm import ConfirmDialog

    server.script(CHAT, sse_reply(["Grey."]), model="gpt-4o")
    server.script(CHAT, sse_reply(["Square."]), model="model-b")
    async with running() as (app, pilot):
        app.chat.compare.start([("loop", "gpt-4o"), ("loop", "model-b")])
        await attach_by_path(app, pilot, "shot.png")
        await pilot.press(*"look", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog),
                         what="the question")
        # gpt-4o takes images (the catalog's rule); only model-b is in doubt.
        assert "loop · model-b is not known" in app.screen.question
        assert "gpt-4o" not in app.screen.question
        await pilot.press("y")
        await wait_until(pilot, lambda: len(server.requests) >= 2, what="both requests")
        for request in server.requests[:2]:
            parts = request.json["messages"][-1]["content"]
            assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")


async def test_chips_queued_behind_a_streaming_reply_go_with_their_prompt(
        server: Any, files: Path) -> None:
    import threading

    hold = threading.Event()
    server.script(CHAT, sse_reply(["first ", "answer"], hold=hold))
    server.script(CHAT, sse_reply(["second answer"]))
    async with running() as (app, pilot):
        await pilot.press(*"first", "enter")
        await wait_until(pilot, lambda: server.requests and app.chat.busy, what="streaming")
        await attach_by_path(app, pilot, "notes.md")
        await pilot.press(*"and this", "enter")
        tray = app.chat.attachments.tray
        await wait_until(pilot, lambda: tray.chips == [], what="the chips taken by the queue")
        assert len(server.requests) == 1
        hold.set()
        await wait_until(pilot, lambda: len(server.requests) == 2 and not app.chat.busy,
                         what="the queued prompt sent")
        content = server.requests[1].json["messages"][-1]["content"]
        assert content.startswith("and this") and "# Notes\nhello\n" in content


async def test_a_hostile_file_name_reaches_the_terminal_inert(server: Any, files: Path) -> None:
    """qa14 F7: a file named with ESC and BEL cleared the screen and set the terminal's
    title from the dialog's tree, and Tab completion put it in the field as it was."""
    from ui_helpers import terminal_output

    folder = files / "ev"
    folder.mkdir()
    (folder / "evil\x1b[2J\x1b]0;PWNED\x07.txt").write_text("hi\n", encoding="utf-8")
    async with running() as (app, pilot):
        await pilot.press("ctrl+a")
        await wait_until(pilot, lambda: dialog(app) is not None, what="the attach dialog")
        box = dialog(app)
        tree = box.query_one("#attach-tree")
        tree.path = folder
        await wait_until(pilot, lambda: tree.root.children, what="the tree's file")
        await pilot.pause()
        drawn = terminal_output(app)
        assert "\x1b]0;PWNED" not in drawn and "\x07" not in drawn and "\x1b[2J" not in drawn
        assert "evil␛[2J" in screen_text(app)
        box.query_one("#attach-path").value = str(folder / "e")
        await pilot.press("tab")
        assert box.path_text == str(folder / "e")  # not filled in with the raw name
        assert "control characters" in box.error_text
