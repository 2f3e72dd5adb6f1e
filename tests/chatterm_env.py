"""Test helpers: write a config pointing at the loopback server, run the CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def write_config(
    base_url: str,
    *,
    kind: str = "openai",
    model: str = "test-model",
    extra: str = "",
    provider: str = "test",
    api_key_env: str | None = None,
) -> Path:
    """Write a config whose default provider is the loopback server; returns its path."""
    path = Path(os.environ["CHATTERM_CONFIG"])
    path.parent.mkdir(parents=True, exist_ok=True)
    key_line = f'api_key_env = "{api_key_env}"\n' if api_key_env else ""
    path.write_text(
        f'default_provider = "{provider}"\n'
        f'default_model = "{model}"\n'
        f"{extra}\n"
        f"[providers.{provider}]\n"
        f'base_url = "{base_url}"\n'
        f'kind = "{kind}"\n'
        f"{key_line}"
        "max_retries = 2\n"
        "read_timeout = 5\n"
        "connect_timeout = 2\n",
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


# Set by conftest for each test: whether it is marked e2e (None outside pytest, e.g. bench/).
current_test_is_e2e: bool | None = None


def run_cli(
    *args: str,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[bytes]:
    """Run `python -m chatterm ARGS` with the test's isolated environment."""
    # The fast loop (-m "not slow and not e2e") stays fast only if every test that starts
    # chatterm as its own process says so.
    assert current_test_is_e2e is not False, "a test that calls run_cli is marked e2e"
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.pop("CHATTERM_BACKOFF_BASE", None)
    if env:
        full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "chatterm", *args],
        input=input if input is not None else b"",
        capture_output=True,
        env=full_env,
        timeout=timeout,
        cwd=REPO_ROOT,
    )


# Linux starts a child's peak RSS at its parent's (fork copies the counters, exec keeps the
# old peak), and pytest is big: to measure chatterm's own peak, start it through this
# launcher: `python -S -c PEAK_RSS_LAUNCHER RESULT_FILE PROGRAM ARGS...` writes the
# child's ru_maxrss (KiB) to RESULT_FILE and exits with the child's status.
PEAK_RSS_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""
