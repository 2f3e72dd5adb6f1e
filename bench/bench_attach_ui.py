"""Attachments in the app: the event loop while a 10 MB image is sent, and opening a chat
of 50 images.

Run:  python bench/bench_attach_ui.py [--runs 5]   (from the repo root; about a minute)

In-process, the real app headless (Textual's run_test, 120×40) against the loopback
server of tests/loopback.py (standalone, a process of its own), with a store in a temp
dir.

  10 MB image    the chip of a 10 MB PNG (attached with Ctrl+A) sent with Enter: the
                 longest the event loop went without running (a 1 ms ticker on the loop;
                 every frame waits for the loop, so no frame can take less), from Enter
                 until the reply is on screen, and that time. The server runs in a
                 process of its own. Target: no stall over 100 ms.
  50 images      a saved chat of 50 prompts, each with its own 1 MB image (and a reply),
                 opened from another chat (`open_saved`, what the sidebar's Enter runs)
                 until its last reply is on screen; with pictures off (placeholders) and
                 with `CHATTERM_IMAGES=kitty` (the pictures of the images on screen are
                 fetched, decoded and drawn; the others never are). Target: 0.5 s.
Medians of --runs runs each (after one warm-up run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

SIZE = (120, 40)
TARGET_STALL = 0.100
TARGET_OPEN = 0.5


def png(width: int, height: int, size: int, seed: int = 0) -> bytes:
    """A valid PNG header and IHDR, then `size` bytes in all (random data in an ancillary
    chunk, so nothing but the header is read before it is sent, as with a real photo)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    head = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height,
                                                             8, 2, 0, 0, 0))
    raw = b"".join(b"\x00" + bytes([(x * 7 + y * 3) % 256 for x in range(width * 3)])
                   for y in range(height))
    image = chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    filler = max(0, size - len(head) - len(image) - 12)
    return head + chunk(b"zzZz", random.Random(seed).randbytes(filler)) + image


def environment(tmp: Path, url: str, *, model: str = "gpt-4o") -> None:
    from ui_helpers import LOOP_KEY, LOOP_KEY_ENV, write_config

    os.environ.update(CHATTERM_CONFIG=str(tmp / "config.toml"), CHATTERM_DATA_DIR=str(tmp),
                      CHATTERM_CACHE_DIR=str(tmp / "cache"), LOOP_API_KEY=LOOP_KEY)
    os.environ[LOOP_KEY_ENV] = LOOP_KEY
    write_config(tmp / "config.toml", url, model=model)


class Ticker:
    """The longest gap between two runs of a 1 ms timer on the event loop."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            self.longest = max(self.longest, now - last)
            last = now

    def start(self) -> None:
        self.longest = 0.0
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> float:
        if self._task is not None:
            self._task.cancel()
        return self.longest


async def until(pilot: Any, predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError("the app did not get there")
        await asyncio.sleep(0.001)


async def send_big_image(image: Path) -> tuple[float, float]:
    from ui_helpers import make_app, screen_text

    app = make_app()
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.chat is not None and app.chat.query("#prompt"))
            await pilot.press("ctrl+a")
            await until(pilot, lambda: app.screen is not app.chat)
            app.screen.query_one("#attach-path").value = str(image)
            await pilot.press("enter")
            await until(pilot, lambda: app.chat.attachments.tray.pending)
            app.chat.prompt.insert("what is it?")
            ticker = Ticker()
            ticker.start()
            started = time.perf_counter()
            await pilot.press("enter")
            await until(pilot, lambda: "done-marker" in screen_text(app))
            return ticker.stop(), time.perf_counter() - started
    finally:
        if app.store is not None:
            app.store.close()


def build_chat(count: int, size: int) -> str:
    """A saved chat of `count` prompts, each with an image of `size` bytes, and replies."""
    from chatterm.attach_files import load_bytes
    from chatterm.attachments import AttachmentLimits
    from chatterm.conversation import Conversation, Message, Role
    from chatterm.store import Store

    limits = AttachmentLimits()
    conversation = Conversation(provider="loop", model="gpt-4o", title="50 images")
    blobs = []
    for n in range(count):
        blob = load_bytes(png(64, 48, size, seed=n), f"shot-{n}.png", limits)
        blobs.append(blob)
        conversation.messages.append(Message(role=Role.USER, content=f"picture {n}?",
                                             conversation_id=conversation.id,
                                             attachments=[blob.meta]))
        conversation.messages.append(Message(role=Role.ASSISTANT, content=f"reply {n} end",
                                             conversation_id=conversation.id,
                                             provider="loop", model="gpt-4o"))
    for parent, child in zip(conversation.messages, conversation.messages[1:], strict=False):
        child.parent_id = parent.id
    conversation.current_id = conversation.messages[-1].id
    with Store.open() as store:
        store.create_conversation(conversation, blobs=blobs)
    return conversation.id


async def open_chat(conversation_id: str, last: str,
                    pictures: bool = False) -> tuple[float, float, int]:
    from ui_helpers import make_app, screen_text

    app = make_app()
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.chat is not None and app.chat.query("#prompt"))
            await pilot.pause(0.2)
            started = time.perf_counter()
            app.chat.open_saved(conversation_id)
            await until(pilot, lambda: last in screen_text(app))
            shown = time.perf_counter() - started
            if not pictures:
                return shown, 0.0, 0
            # The pictures of the images on screen (fetched, decoded, drawn off the loop).
            await until(pilot, lambda: app.chat.query(".attachment-picture"))
            await pilot.pause(0.5)
            drawn = time.perf_counter() - started - 0.5
            return shown, drawn, len(app.chat.query(".attachment-picture"))
    finally:
        if app.store is not None:
            app.store.close()


def start_server(tmp: Path, sends: int) -> tuple[subprocess.Popen[bytes], str]:
    """tests/loopback.py in a process of its own: its reading and parsing of 13 MB
    bodies must not take this process's GIL (in a thread here it stalled the loop by
    ~0.5 s, which is the server's time, not the app's)."""
    script = tmp / "script.json"
    script.write_text(json.dumps({"queue": {"chat/completions": [
        {"sse_text": ["A ", "picture. done-marker"]} for _ in range(sends)]}}))
    port_file = tmp / "port"
    server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "loopback.py"),
                               "--script", str(script), "--port-file", str(port_file)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while not port_file.exists():
        if time.monotonic() > deadline:
            server.kill()
            raise TimeoutError("the loopback server did not start")
        time.sleep(0.02)
    return server, f"http://127.0.0.1:{port_file.read_text().strip()}/v1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chatterm-bench-attach-") as folder:
        tmp = Path(folder)
        server, url = start_server(tmp, args.runs + 1)
        try:
            environment(tmp, url)
            os.environ["CHATTERM_IMAGES"] = "off"
            image = tmp / "big.png"
            image.write_bytes(png(640, 480, 10 * 1024 * 1024))
            stalls, shown = [], []
            for run in range(args.runs + 1):
                stall, took = asyncio.run(send_big_image(image))
                if run:
                    stalls.append(stall)
                    shown.append(took)
            print(f"10 MB image: longest event-loop stall, Enter to reply shown: median "
                  f"{statistics.median(stalls) * 1000:.0f} ms, worst "
                  f"{max(stalls) * 1000:.0f} ms (target {TARGET_STALL * 1000:.0f} ms); "
                  f"Enter to the reply on screen: median "
                  f"{statistics.median(shown) * 1000:.0f} ms")
            chat = build_chat(50, 1024 * 1024)
            for mode in ("off", "kitty"):
                os.environ["CHATTERM_IMAGES"] = mode
                # The Kitty protocol's pictures are sent by textual-image straight to
                # the terminal (sys.__stdout__); here that is the bench's own output.
                real_stdout, sys.__stdout__ = sys.__stdout__, open(os.devnull, "w")  # noqa: SIM115
                try:
                    results = [asyncio.run(open_chat(chat, "reply 49 end", mode == "kitty"))
                               for _ in range(args.runs + 1)][1:]
                finally:
                    sys.__stdout__.close()
                    sys.__stdout__ = real_stdout
                times = [result[0] for result in results]
                print(f"50 images, pictures {mode:>5}: open until the last reply is shown: "
                      f"median {statistics.median(times) * 1000:.0f} ms, worst "
                      f"{max(times) * 1000:.0f} ms (target {TARGET_OPEN * 1000:.0f} ms)")
                if mode == "kitty":
                    print(f"  first picture drawn: median "
                          f"{statistics.median(r[1] for r in results) * 1000:.0f} ms; "
                          f"pictures made: {sorted({r[2] for r in results})} of 50")
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
