"""`chatterm ask`'s approval of a tool call: y/n/a on the terminal, or --yes.

The question goes to stderr (stdout carries only the reply, so `ask ... > answer.txt`
still asks) and the answer is read from the controlling terminal, /dev/tty, not stdin:
stdin may be the piped prompt (`git diff | chatterm ask "review"`). Without a terminal
(cron, CI, a detached process) nobody can answer, so every call that needs approval is
declined with a line saying --yes allows it; chatterm never runs a tool unasked.

The terminal is read with the event loop's reader (no thread), so Ctrl+C, which cancels
the exchange's task, cancels a question as promptly as a streaming reply.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import TextIO

from chatterm.cli.output import warn
from chatterm.sanitize import neutralise
from chatterm.toolbox import Approval, ApprovalRequest, Decision

ANSWERS = {"y": Decision.ALLOW, "yes": Decision.ALLOW, "n": Decision.DENY,
           "no": Decision.DENY, "a": Decision.ALWAYS, "always": Decision.ALWAYS}


# How much of a call's arguments one stderr line shows: the `running` line as much as a
# result's line, the question more (it is what you approve), neither a 120 KB flood; the
# whole arguments stay in --json and the store.
RUNNING_WIDTH = 200
QUESTION_WIDTH = 1000


def call_line(label: str, arguments: str, width: int | None = None) -> str:
    """`server.tool {"arg": 1}`: the arguments on one line, compact, as JSON when they
    are JSON (the request pretty-prints them), neutralised: they are the model's words.
    With `width`, a longer line is cut there and says how many characters were left out."""
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        shown = " ".join(arguments.split())
    else:
        shown = json.dumps(value, ensure_ascii=False)
    line = neutralise(f"{label} {shown}".replace("\n", " "))
    if width is None or len(line) <= width:
        return line
    return f"{line[:width]}… ({len(line) - width:,} more characters)"


class TerminalApprover:
    """The session's Approver for `ask`: --yes allows every call, else the terminal asks."""

    def __init__(self, *, yes: bool, tty_path: str = "/dev/tty") -> None:
        self.yes = yes
        self._tty_path = tty_path
        self._fd: int | None = None
        self._opened = False
        self._buffer = b""
        self._asking: str | None = None  # the question on screen, waiting for its answer

    async def __call__(self, request: ApprovalRequest) -> Approval:
        if self.yes:
            return Approval(Decision.ALLOW)
        fd = self._terminal()
        if fd is None:
            warn(f"declined {neutralise(request.spec.label)}: no terminal to ask on "
                 "(--yes allows every tool call)")
            return Approval(Decision.DENY)
        question = f"Run {call_line(request.spec.label, request.arguments, QUESTION_WIDTH)}? " \
                   "[y]es/[n]o/[a]lways "
        while True:
            self._say(question)
            self._asking = question
            try:
                line = await self._read_line(fd)
            except BaseException:
                self._say("\n")  # Ctrl+C: the shell's prompt starts on a line of its own
                raise
            finally:
                self._asking = None
            if line is None:  # Ctrl+D: no answer is no
                self._say("\n")
                return Approval(Decision.DENY)
            decision = ANSWERS.get(line.strip().lower())
            if decision is not None:
                return Approval(decision)
            self._say("answer y (run it once), n (don't run it) or a (always run this "
                      "tool)\n")

    def interrupt(self) -> bool:
        """Before a line is written to stderr while a question waits: end the question's
        line; True when there was one to end (ask_again() puts it back below)."""
        if self._asking is None or self._output() is not sys.stderr:
            return False
        self._say("\n")
        return True

    def ask_again(self) -> None:
        if self._asking is not None:
            self._say(self._asking)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _terminal(self) -> int | None:
        """The controlling terminal's fd, opened on first use; None without one."""
        if not self._opened:
            self._opened = True
            try:
                self._fd = os.open(self._tty_path, os.O_RDWR | os.O_NOCTTY)
            except OSError:
                self._fd = None
        return self._fd

    def _output(self) -> TextIO | int:
        # The question is on stderr; when stderr is redirected (a log), on the terminal
        # itself, so the person who answers sees what they answer.
        err = sys.stderr
        try:
            if err is not None and err.isatty():
                return err
        except (AttributeError, ValueError):
            pass
        assert self._fd is not None
        return self._fd

    def _say(self, text: str) -> None:
        out = self._output()
        if isinstance(out, int):
            os.write(out, text.encode("utf-8", "replace"))
        else:
            out.write(text)
            out.flush()

    async def _read_line(self, fd: int) -> str | None:
        """One line typed on the terminal (without waiting on a thread); None at EOF."""
        while b"\n" not in self._buffer:
            chunk = await _readable(fd)
            if not chunk:
                self._buffer = b""
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("utf-8", "replace")


async def _readable(fd: int) -> bytes:
    """The next bytes from `fd`, read when the loop says they are there."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        loop.remove_reader(fd)
    try:
        return os.read(fd, 4096)
    except OSError:  # the terminal went away (hang-up): as good as EOF
        return b""
