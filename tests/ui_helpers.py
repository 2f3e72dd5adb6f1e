"""Shared by the TUI tests: a config pointing at the loopback server, polling, screen text."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

LOOP_PROVIDER = "loop"
LOOP_KEY_ENV = "LOOP_API_KEY"
LOOP_KEY = "sk-loop-test-key-0123456789"


def write_config(path: Path, base_url: str, *, extra: str = "", key_env: bool = True,
                 model: str = "model-a", read_timeout: float = 5) -> Path:
    """A config whose default provider is the loopback server."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key_line = f'api_key_env = "{LOOP_KEY_ENV}"\n' if key_env else ""
    path.write_text(
        f'default_provider = "{LOOP_PROVIDER}"\n'
        f"{extra}\n"
        f"[providers.{LOOP_PROVIDER}]\n"
        f'base_url = "{base_url}"\n'
        f"{key_line}"
        f'default_model = "{model}"\n'
        "max_retries = 2\n"
        f"read_timeout = {read_timeout}\n",
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


def make_app(options: Any = None) -> Any:
    from chatterm.launch import LaunchOptions, prepare_launch
    from chatterm.ui.app import ChattermApp

    state = prepare_launch(options or LaunchOptions())
    return ChattermApp(state)


async def wait_until(pilot: Any, predicate: Callable[[], object], *, timeout: float = 10.0,
                     what: str = "condition") -> None:
    """Let the app run until `predicate()` is true; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def screen_text(app: Any) -> str:
    """The screen as plain text lines, as the compositor would draw it."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def terminal_output(app: Any) -> str:
    """The exact characters a full redraw would write to the terminal."""
    update = app.screen._compositor.render_full_update()
    return update.render_segments(app.console)


class running:  # lower case: reads as `async with running() as (app, pilot)`
    """Run the real app headless; its store is closed afterwards whatever happens."""

    def __init__(self, options: Any = None, size: tuple[int, int] = (100, 32)) -> None:
        self.options = options
        self.size = size
        self.app: Any = None
        self._context: Any = None

    async def __aenter__(self) -> tuple[Any, Any]:
        self.app = make_app(self.options)
        self._context = self.app.run_test(size=self.size)
        pilot = await self._context.__aenter__()
        await pilot.pause()
        return self.app, pilot

    async def __aexit__(self, *exc_info: Any) -> None:
        try:
            await self._context.__aexit__(*exc_info)
        finally:
            if self.app.store is not None:
                self.app.store.close()
