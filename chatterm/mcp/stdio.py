"""The stdio transport: a server process and its newline-delimited JSON-RPC pipes.

Ours rather than the SDK's `stdio_client` because the host needs what that one keeps to
itself: the process (its exit code for "the server stopped (exit code 1)", its pid to
kill when close() runs out of time), a line that is not JSON-RPC (garbage on stdout
fails the server with one line, instead of a log record on the terminal), and the
moment the server went away, so a dead server is FAILED before anyone calls it.

Imported only on the host thread (it imports the SDK).
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import IO

import anyio
import anyio.abc
import mcp.types as types
from anyio.streams.text import TextReceiveStream
from mcp.shared.message import SessionMessage

# After stdin closes, a server gets this long to exit on its own, then as long again
# after SIGTERM before SIGKILL: close() stays bounded.
EXIT_GRACE = 1.0
POLL = 0.02
# The longest line kept of what a server wrote that is not JSON-RPC (for the message).
GARBAGE_SHOWN = 60


@dataclass
class ProcessEnd:
    """Why the connection ended, filled in by the transport for the host to report."""

    ended: anyio.Event = field(default_factory=anyio.Event)
    reason: str | None = None  # one line, e.g. "the server stopped (exit code 1)"
    pid: int | None = None
    # Set by the host for a server stopped before it finished starting: one that has not
    # answered initialize will not act on its stdin closing either, so it gets SIGTERM at
    # once rather than after EXIT_GRACE (a hung server held `ask`'s exit ~1.5 s).
    hurry: bool = False

    def end(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self.ended.set()


@contextlib.asynccontextmanager
async def stdio_transport(command: str, args: list[str], *, env: dict[str, str],
                          cwd: str | None, errlog: IO[bytes] | int,
                          end: ProcessEnd) -> AsyncIterator[tuple[object, object]]:
    """Start the server and yield (read_stream, write_stream) for the SDK's Client."""
    process = await anyio.open_process([command, *args], env=env, cwd=cwd, stderr=errlog,
                                       start_new_session=True)
    end.pid = process.pid
    reader_send, reader = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    writer, writer_receive = anyio.create_memory_object_stream[SessionMessage](0)

    async def read_stdout() -> None:
        assert process.stdout is not None
        # The pieces of a line not ended yet: joined once its newline comes, so a result
        # of many megabytes on one line costs one copy, not one per chunk read.
        pending: list[str] = []
        async with reader_send:
            try:
                async for chunk in TextReceiveStream(process.stdout, errors="replace"):
                    if "\n" not in chunk:
                        pending.append(chunk)
                        continue
                    lines = "".join([*pending, chunk]).split("\n")
                    pending = [lines.pop()]
                    for line in lines:
                        if not line.strip():
                            continue
                        try:
                            message = types.jsonrpc_message_adapter.validate_json(
                                line, by_name=False)
                        except ValueError:
                            end.end(f"answered garbage on stdout: {_shown(line)}")
                            return
                        await reader_send.send(SessionMessage(message))
            except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
                pass
        end.end(await _exit_reason(process))

    async def write_stdin() -> None:
        assert process.stdin is not None
        try:
            async with writer_receive:
                async for item in writer_receive:
                    data = item.message.model_dump_json(by_alias=True, exclude_unset=True)
                    await process.stdin.send((data + "\n").encode())
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            end.end(await _exit_reason(process))
            await reader_send.aclose()

    async with anyio.create_task_group() as group:
        group.start_soon(read_stdout)
        group.start_soon(write_stdin)
        try:
            yield reader, writer
        finally:
            with anyio.CancelScope(shield=True):
                await _stop(process, hurry=end.hurry)
                end.end(await _exit_reason(process))
                for stream in (reader, writer, reader_send, writer_receive):
                    await stream.aclose()
            group.cancel_scope.cancel()


def _shown(line: str) -> str:
    text = line.strip()
    return repr(text if len(text) <= GARBAGE_SHOWN else text[:GARBAGE_SHOWN] + "…")


async def _exit_reason(process: anyio.abc.Process) -> str:
    # The pipe closes a moment before the exit is seen; wait for it, a little.
    with anyio.move_on_after(EXIT_GRACE):
        while process.returncode is None:
            await anyio.sleep(POLL)
    code = process.returncode
    if code is None:
        return "the server closed its output"
    if code < 0:
        try:
            return f"the server was killed ({signal.Signals(-code).name})"
        except ValueError:
            return f"the server was killed (signal {-code})"
    return f"the server stopped (exit code {code})"


async def _stop(process: anyio.abc.Process, *, hurry: bool = False) -> None:
    """Close stdin (the MCP way to ask a stdio server to exit), then SIGTERM, then
    SIGKILL its whole process group, each after a bounded wait (`hurry`: SIGTERM with
    no wait for stdin's close to be heard)."""
    if process.stdin is not None:
        with contextlib.suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
            await process.stdin.aclose()
    for index, sig in enumerate((signal.SIGTERM, signal.SIGKILL)):
        if await _exited(process, 0.0 if hurry and index == 0 else EXIT_GRACE):
            break
        kill_group(process.pid, sig)
    await _exited(process, EXIT_GRACE)
    if process.stdout is not None:
        with contextlib.suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
            await process.stdout.aclose()
    # asyncio keeps the subprocess transport open while a surviving child holds a pipe.
    transport = getattr(getattr(process, "_process", None), "_transport", None)
    close = getattr(transport, "close", None)
    if callable(close):
        with contextlib.suppress(OSError):
            close()


async def _exited(process: anyio.abc.Process, timeout: float) -> bool:
    # returncode, not wait(): wait() also waits for pipe EOF, which a child that
    # inherited the pipes holds open.
    with anyio.move_on_after(timeout):
        while process.returncode is None:
            await anyio.sleep(POLL)
    return process.returncode is not None


def kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    """Signal the server's process group (it runs in a session of its own)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
