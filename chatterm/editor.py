"""The prompt in the user's own editor: `$VISUAL`, else `$EDITOR`, else `vi`.

Used by the app's Ctrl+E (chatterm.ui.chat.prompt_editor) and by `chatterm ask -e`. The
text goes into `prompt.md` in a private temporary folder (0700, the file 0600: a prompt
may hold anything; the `.md` suffix makes editors colour it as Markdown), the editor runs
on it, and what it saved comes back. The folder goes whatever happens, with any backup or
swap file the editor left beside the prompt. Every failure is an EditorError of one line,
and the caller keeps the text it had. No Textual here: the command line uses it too.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from chatterm.errors import ChattermError

FALLBACK = "vi"
FILE_NAME = "prompt.md"


class EditorError(ChattermError):
    """The editor could not start, failed, or saved something that is not UTF-8 text."""


def editor_command(environ: Mapping[str, str] | None = None) -> tuple[list[str], str]:
    """The editor's command words and where they came from ("$VISUAL", "$EDITOR", "vi").

    The variables may carry arguments (`code -w`, `emacsclient -t`), split as a shell
    would split them.
    """
    env = os.environ if environ is None else environ
    for name in ("VISUAL", "EDITOR"):
        value = env.get(name, "")
        if not value.strip():
            continue
        try:
            words = shlex.split(value)
        except ValueError as error:
            raise EditorError(f"${name} ({value!r}) cannot be read as a command: "
                              f"{error}") from None
        if words:
            return words, f"${name}"
    return [FALLBACK], FALLBACK


def file_text(text: str) -> str:
    """What the file starts with: the text and a line end, as editors save files."""
    return text + "\n" if text else ""


def prompt_text(saved: str) -> str:
    """The prompt in a saved file: the one line end an editor adds at the end goes."""
    if saved.endswith("\r\n"):
        return saved[:-2]
    return saved.removesuffix("\n")


def edit_text(text: str, *, terminal: IO[bytes] | None = None,
              environ: Mapping[str, str] | None = None) -> str:
    """Open `text` in the editor and return what it saved.

    `terminal` is the editor's stdin, stdout and stderr (`ask -e` gives /dev/tty, as its
    own stdin may be a pipe); None leaves it this process's own (the app, suspended).
    """
    words, source = editor_command(environ)
    try:
        scratch = tempfile.TemporaryDirectory(prefix="chatterm-prompt-",
                                              ignore_cleanup_errors=True)
    except OSError as error:
        raise EditorError(f"no temporary folder for the editor's file ({error.strerror})"
                          ) from None
    with scratch as folder:
        path = Path(folder) / FILE_NAME
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as file:
                file.write(file_text(text))
        except OSError as error:
            raise EditorError(f"the prompt could not be written to {path} for the editor "
                              f"({error.strerror})") from None
        code = _run([*words, str(path)], source, terminal)
        if code != 0:
            raise EditorError(f"the editor {_name(words, source)} {_exit(code)}")
        try:
            data = path.read_bytes()
        except OSError as error:
            raise EditorError(f"the editor {_name(words, source)} left no {FILE_NAME} to "
                              f"read back ({error.strerror})") from None
    try:
        return prompt_text(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise EditorError(f"the editor saved text that is not UTF-8 (byte {error.start})"
                          ) from None


def edit_on_terminal(text: str) -> str:
    """`edit_text` with the editor on the controlling terminal, for `ask -e`."""
    try:
        tty = open("/dev/tty", "r+b", buffering=0)  # noqa: SIM115 - closed below
    except OSError as error:
        raise EditorError(f"-e needs a terminal for the editor, and /dev/tty cannot be "
                          f"opened ({error.strerror})") from None
    with tty:
        return edit_text(text, terminal=tty)


def _run(command: list[str], source: str, terminal: IO[bytes] | None) -> int:
    try:
        with keys_for_the_editor():
            return subprocess.run(command, stdin=terminal, stdout=terminal,
                                  stderr=terminal, check=False).returncode
    except FileNotFoundError:
        if source == FALLBACK:
            raise EditorError("no editor: $VISUAL and $EDITOR are not set, and 'vi' was "
                              "not found") from None
        raise EditorError(f"the editor {_name(command, source)} was not found") from None
    except OSError as error:
        raise EditorError(f"the editor {_name(command, source)} could not start "
                          f"({error.strerror or error})") from None


@contextmanager
def keys_for_the_editor() -> Iterator[None]:
    """Ctrl+C and Ctrl+\\ in the editor are the editor's, as with git: the terminal sends
    their signals to the whole foreground group, chatterm included, and a
    KeyboardInterrupt here would leave the app suspended. A Python handler (not
    SIG_IGN, which a child would inherit) ignores them here and is reset in the editor.
    The app holds this around its whole suspension too (prompt_editor): the terminal is
    in the shell's mode from the moment the app suspends, before the editor starts and
    after it ends, and a Ctrl+C typed then must not reach chatterm either. Nesting is
    fine: each level puts back what it found."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers (and only it gets the signals)
        return
    wanted = [sig for sig in (signal.SIGINT, getattr(signal, "SIGQUIT", None)) if sig]
    before = {sig: signal.signal(sig, _ignore) for sig in wanted}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)


def _ignore(signum: int, frame: object) -> None:
    """Stands in for SIG_IGN while the editor runs."""


def _name(words: list[str], source: str) -> str:
    return f"{words[0]!r}" if source == FALLBACK else f"{words[0]!r} ({source})"


def _exit(code: int) -> str:
    if code < 0:
        try:
            return f"was stopped by {signal.Signals(-code).name}"
        except ValueError:
            return f"was stopped by signal {-code}"
    return f"exited with status {code}"
