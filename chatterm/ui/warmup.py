"""Loading what the first reply needs while the user reads the screen, without racing it.

The app imports the reply machinery (Markdown widget, engine, HTTP stack, Pygments
lexers) in a thread after the first frame. If the main thread imported the same modules
at the same moment (a prompt sent within the first second), the two imports could meet
half-initialised modules and fail with ImportError. So the main thread calls `settle()`
before its own lazy imports: a no-op once the warm-up is done or if it never started,
otherwise a short wait for it.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import threading

# Imported in this order; the engine pulls in the HTTP client.
WARM_MODULES = (
    "chatterm.ui.markdown.streaming",
    "chatterm.engine.session",
    "chatterm.api.client",
)

# Pygments compiles a lexer's regexes on its first use (~70 ms for Python); doing it
# ahead keeps the first code block of a reply from stalling the stream.
WARM_LEXERS = ("python", "bash", "javascript", "json")

_started = threading.Event()
_done = threading.Event()


def mark_started() -> None:
    """Call on the main thread just before handing `warm_up` to a thread."""
    _started.set()


def warm_up() -> None:
    """Import everything in WARM_MODULES, the HTTP stack and the common lexers."""
    try:
        for name in WARM_MODULES:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
        from chatterm.engine.pool import preload

        preload()
        try:
            from pygments.lexers import get_lexer_by_name
            from pygments.util import ClassNotFound
        except ImportError:
            return
        for lexer in WARM_LEXERS:
            with contextlib.suppress(ClassNotFound):
                get_lexer_by_name(lexer)
    finally:
        # What is loaded by now (Textual, the reply machinery, the lexers) lives as long
        # as the app. Moving it out of the collector's sight spares every full
        # collection a walk over it: a ~45 ms pause, several times per long reply.
        gc.freeze()
        _done.set()


def is_started() -> bool:
    """Has a warm-up been started (it runs after the app's first frame)?"""
    return _started.is_set()


def is_done() -> bool:
    """Has the warm-up loaded everything (or given up on it)?"""
    return _done.is_set()


def settle(timeout: float = 10.0) -> None:
    """Wait for a warm-up in progress to finish; return at once otherwise."""
    if _started.is_set():
        _done.wait(timeout)
