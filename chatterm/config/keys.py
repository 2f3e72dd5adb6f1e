"""API keys: where a provider's key comes from, and running `api_key_command` safely.

The key is looked up in the env var, then `api_key`, then `api_key_command`.
`subprocess.run(capture_output=True)` keeps everything a command prints until it exits or
times out: `yes` filled 8.4 GiB in its 10 s. And it only ends the shell, so a command's
background children (`sleep 300 &`) outlived it. Here the command runs in a session of
its own; at most MAX_OUTPUT bytes are read; and when it exits, times out or prints too
much, its whole process group is killed.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from chatterm.errors import ConfigError
from chatterm.providers import ProviderConfig

if TYPE_CHECKING:
    import subprocess

# A key is one line; tools such as `pass show` add a few lines of metadata.
MAX_OUTPUT = 64 * 1024
KEY_COMMAND_TIMEOUT = 10.0


def resolve_api_key(provider: ProviderConfig) -> str | None:
    """The key from the env var, else `api_key`, else `api_key_command`'s first line.

    Whatever is found is registered with the redactor: no line shown later says it."""
    from chatterm.redact import remember

    key = _find_api_key(provider)
    remember(key, *provider.secret_values)
    return key


def _find_api_key(provider: ProviderConfig) -> str | None:
    if provider.api_key_env:
        from_env = os.environ.get(provider.api_key_env, "").strip()
        if from_env:
            return from_env
    if provider.api_key and provider.api_key.strip():
        return provider.api_key.strip()
    if provider.api_key_command:
        return _run_key_command(provider)
    return None


def _run_key_command(provider: ProviderConfig) -> str:
    # The command's output is the secret: it is never echoed, logged or kept.
    return run_key_command(provider.api_key_command or "",
                           f"api_key_command for provider {provider.name!r}",
                           KEY_COMMAND_TIMEOUT)


def missing_key_message(provider: ProviderConfig, config_path: Path | None = None) -> str:
    if config_path is None:
        from chatterm.locations import config_file

        config_path = config_file()
    table = f"[providers.{provider.name}]"
    if provider.api_key_env:
        return (
            f"no API key for provider {provider.name!r}: set {provider.api_key_env}"
            f" (or api_key_command in {table} of {config_path})"
        )
    return (
        f"no API key for provider {provider.name!r}: set api_key_env or api_key_command"
        f" in {table} of {config_path}"
    )


def run_key_command(command: str, where: str, timeout: float) -> str:
    """The first non-empty line the command prints (stripped); ConfigError otherwise.

    `where` names the setting in messages. Nothing the command prints is ever shown.
    """
    import subprocess  # here, not at the top: most runs never start a key command

    try:
        proc = subprocess.Popen(
            command, shell=True, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        raise ConfigError(f"{where} could not run: {exc.strerror or 'error'}") from None
    try:
        output, problem = _read_bounded(proc, timeout)
    finally:
        _kill_group(proc)
    if problem == "timeout":
        raise ConfigError(f"{where} timed out after {timeout:g} s")
    if problem == "too much":
        raise ConfigError(f"{where} printed more than {MAX_OUTPUT // 1024} KiB; "
                          "it should print the key on one line")
    if proc.returncode != 0:
        raise ConfigError(f"{where} failed with exit status {proc.returncode}")
    # Tools like `pass show` print the secret on the first line and metadata after it;
    # a header value with a newline would be refused anyway.
    for line in output.decode("utf-8", "replace").splitlines():
        if line.strip():
            return line.strip()
    raise ConfigError(f"{where} printed nothing")


def _read_bounded(proc: subprocess.Popen[bytes], timeout: float) -> tuple[bytes, str | None]:
    """(what was read, None | "timeout" | "too much").

    Reading stops at end of file, or once the command has exited and nothing more is
    waiting: a background child may hold the pipe open for as long as it likes.
    """
    import selectors
    import subprocess

    assert proc.stdout is not None
    stream = proc.stdout.fileno()
    os.set_blocking(stream, False)
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    size = 0
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        while True:
            exited = proc.poll() is not None
            left = deadline - time.monotonic()
            if left <= 0 and not exited:
                return b"".join(chunks), "timeout"
            ready = selector.select(0 if exited else min(left, 0.05))
            if not ready:
                if exited:
                    return b"".join(chunks), None
                continue
            try:
                data = os.read(stream, 65536)
            except BlockingIOError:
                continue
            if not data:  # end of file: every writer has gone
                try:
                    proc.wait(max(deadline - time.monotonic(), 0))
                except subprocess.TimeoutExpired:
                    return b"".join(chunks), "timeout"
                return b"".join(chunks), None
            chunks.append(data)
            size += len(data)
            if size > MAX_OUTPUT:
                return b"", "too much"


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """End the command and everything it started (its process group), then reap it."""
    import signal
    import subprocess

    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)
    if proc.stdout is not None:
        proc.stdout.close()
