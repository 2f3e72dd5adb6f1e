"""API keys stay secret and chatterm's files stay private, checked through the CLI.

- a key the server echoes back (error bodies, HTML pages, mid-stream errors) is never
  printed, saved, exported or left in any file chatterm writes;
- a config file holding api_key that others can read gets a warning with the fix;
- api_key_command works and its output is never written anywhere;
- the key goes only to its own provider's origin, never along a cross-origin redirect;
- the data dir is 0700, its files 0600 (even with umask 000), exports are atomic.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from chatterm_env import REPO_ROOT, run_cli
from loopback import (
    LoopbackServer,
    json_reply,
    sse_chunks,
    sse_event,
    sse_reply,
    stream_reply,
    text_reply,
)

pytestmark = pytest.mark.e2e

CHAT = "chat/completions"
KEY_ENV = "SECRET_TEST_KEY"
# Not shaped like a key, so only chatterm knowing it is its key can keep it out of sight.
KEY = "correct-horse-battery-staple-42"


def configure(base_url: str, *, key_line: str = f'api_key_env = "{KEY_ENV}"',
              mode: int = 0o600, extra: str = "") -> Path:
    path = Path(os.environ["CHATTERM_CONFIG"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'default_provider = "loop"\ndefault_model = "m"\n{extra}\n[providers.loop]\n'
        f'base_url = "{base_url}"\n{key_line}\nmax_retries = 0\nread_timeout = 5\n')
    path.chmod(mode)
    return path


def files_holding(root: Path, needle: str) -> list[Path]:
    """Every file under `root` whose bytes contain `needle` (in UTF-8)."""
    raw = needle.encode()
    return [p for p in root.rglob("*") if p.is_file() and raw in p.read_bytes()]


def clean(result: subprocess.CompletedProcess[bytes], secret: str = KEY) -> str:
    err = result.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err
    assert secret not in err and secret.encode() not in result.stdout
    return err


def newest_conversation_id() -> str:
    return str(json.loads(run_cli("list", "--json").stdout)[0]["id"])


# ---- echoed keys -------------------------------------------------------------------------------


def test_a_key_echoed_by_the_server_is_never_printed_saved_or_exported(
        loopback: LoopbackServer, isolated_env: Path, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    configure(loopback.url)
    head = sse_chunks(["partial "], finish_reason=None, done=False)
    loopback.script(CHAT, [
        json_reply({"error": {"message": f"Incorrect API key provided: {KEY}. You can find "
                              "your API key at https://example.invalid/keys."}}, 401),
        text_reply(f"<html><head><title>Denied for {KEY}</title></head></html>", 500,
                   "text/html"),
        text_reply(f"bad header: Authorization: Bearer {KEY}\n", 400),
        stream_reply([*head, sse_event({"error": {"message": f"key {KEY} revoked"}},
                                       event="error")]),
    ])
    runs = [run_cli("ask", f"try {i}") for i in range(3)]
    runs.append(run_cli("ask", "--json", "try 3"))
    for result in runs:
        assert result.returncode == 1
        assert len(clean(result).splitlines()) == 1
    assert loopback.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert json.loads(runs[-1].stdout)["error"]  # the error is kept, without the key

    for conversation in json.loads(run_cli("list", "--json").stdout):
        for fmt in ("json", "markdown"):
            exported = run_cli("export", conversation["id"], "--format", fmt)
            assert exported.returncode == 0
            clean(exported)
            written = run_cli("export", conversation["id"], "--format", fmt, "-o",
                              str(tmp_path / f"out.{fmt}"))
            assert written.returncode == 0
            assert KEY not in (tmp_path / f"out.{fmt}").read_text()
    assert clean(run_cli("show", newest_conversation_id())) is not None

    conn = sqlite3.connect(isolated_env / "data" / "chatterm.db")
    dumped = "\n".join(conn.iterdump())
    conn.close()
    assert "partial" in dumped and KEY not in dumped
    assert files_holding(isolated_env, KEY) == []  # db, -wal, cache, logs: nothing


def mangled(secret: str) -> list[str]:
    """The key as echoes mangle it: upper-cased, with a NUL or a zero-width space inside."""
    half = len(secret) // 2
    return [secret.upper(), secret[:half] + "\x00" + secret[half:],
            secret[:5] + "\u200b" + secret[5:half] + "\u2060" + secret[half:]]


def shows_part_of(text: str, secret: str, window: int = 10) -> bool:
    """Whether `text` holds any `window` characters of `secret`, in any case and with
    invisible characters (as a terminal would show them: not at all) taken out."""
    seen = re.sub("[\x00\u200b-\u200f\u2060-\u2064\ufeff]", "", text).lower()
    return any(secret[i:i + window].lower() in seen for i in range(len(secret) - window + 1))


def test_a_key_quoted_by_a_broken_chunk_or_mangled_in_an_echo_is_never_shown_or_kept(
        loopback: LoopbackServer, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    configure(loopback.url)
    before = sse_chunks(["before "], finish_reason=None, done=False)
    after = sse_chunks(["after"])
    broken = [
        # Cut to 60 characters before redaction, the key's head would show.
        f'data: {{"echo": {{"headers": {{"Authorization": "Bearer {KEY}"\n\n',
        f'data: {{"proxy_debug": "x-api-key={KEY}; upstream=down", "choices": [\n\n',
        f"data: <html>forwarded {KEY} upstream</html>\n\n",
    ]
    replies = [stream_reply([*before, line.encode(), *after]) for line in broken]
    replies += [json_reply({"error": {"message": f"Incorrect API key provided: {echo}"}}, 401)
                for echo in mangled(KEY)]
    # A usage record is kept as sent (`usage.raw`): one that echoes the key must not be.
    replies.append(stream_reply(sse_chunks(["fine"], usage={
        "prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2,
        "debug": {"auth": f"Bearer {KEY}", "echo": [mangled(KEY)[0]]}})))
    loopback.script(CHAT, replies)
    for number in range(len(replies)):
        result = run_cli("ask", f"try {number}")
        err = result.stderr.decode("utf-8", "replace")
        assert "Traceback" not in err and err.count("\n") == (number < len(replies) - 1), err
        assert not shows_part_of(err + result.stdout.decode(), KEY), err
        if number < len(broken):
            assert "skipped 1 unreadable chunk" in err and result.stdout == b"before after\n"
    conn = sqlite3.connect(isolated_env / "data" / "chatterm.db")
    dumped = "\n".join(conn.iterdump())
    conn.close()
    assert "before after" in dumped and "[REDACTED]" in dumped  # the usage record is kept
    assert not shows_part_of(dumped, KEY)


# ---- the config file ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o600])
def test_a_readable_config_holding_api_key_gets_a_warning_with_the_fix(
        loopback: LoopbackServer, mode: int) -> None:
    path = configure(loopback.url, key_line=f'api_key = "{KEY}"', mode=mode)
    loopback.script(CHAT, sse_reply(["fine"]))
    result = run_cli("ask", "hi")
    assert result.returncode == 0 and result.stdout == b"fine\n"
    err = clean(result)
    if mode & 0o044:
        assert err == (f"chatterm: warning: {path} holds an API key and is readable by "
                       f"others; fix it with: chmod 600 {path}\n")
    else:
        assert err == ""
    assert loopback.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert stat.S_IMODE(path.stat().st_mode) == mode  # warned about, never changed behind us


def test_api_key_command_is_used_and_its_output_never_saved(
        loopback: LoopbackServer, isolated_env: Path, tmp_path: Path) -> None:
    secret = "cmd-only-secret-Zx81"
    helper = tmp_path / "print-key.sh"
    helper.write_text(f"#!/bin/sh\necho {secret}\necho 'login: me@example.invalid'\n")
    path = configure(loopback.url,
                     key_line=f"api_key_command = {json.dumps('sh ' + shlex.quote(str(helper)))}",
                     mode=0o644)  # a command is not a key: no warning due
    loopback.script(CHAT, sse_reply(["via ", "command"]))
    loopback.script("models", json_reply({"data": [{"id": "m", "object": "model"}]}))

    asked = run_cli("ask", "--json", "hi")
    assert asked.returncode == 0
    assert clean(asked, secret) == ""
    assert json.loads(asked.stdout)["content"] == "via command"
    assert loopback.requests[0].headers["authorization"] == f"Bearer {secret}"

    refreshed = run_cli("models", "--refresh", "--json")
    assert refreshed.returncode == 0, refreshed.stderr
    clean(refreshed, secret)
    assert loopback.requests[1].headers["authorization"] == f"Bearer {secret}"
    assert run_cli("config", "set", "default_model", "m2").returncode == 0
    shown = run_cli("config", "show")
    assert shown.returncode == 0 and b"api_key_command" in shown.stdout
    clean(shown, secret)
    assert secret not in path.read_text()
    assert files_holding(isolated_env, secret) == []


def test_config_show_reveals_no_usable_part_of_any_secret(loopback: LoopbackServer) -> None:
    short = "Zq7Rk2Mw9Tx4"  # 12 characters: 7 of them used to show
    configure(loopback.url, key_line=(
        f'api_key = "{short}"\napi_key_command = "echo {KEY}"\n'
        f'headers = {{ X-Org-Access = "{KEY}", X-Title = "my app" }}'))
    shown = run_cli("config", "show")
    out = clean(shown) + shown.stdout.decode()
    assert shown.returncode == 0, out
    assert 'api_key = "…x4"' in out and not shows_part_of(out, short, window=3)
    assert 'api_key_command = "echo …"' in out
    assert 'X-Org-Access = "…e-42"' in out  # a token header, whatever its name
    assert not shows_part_of(out, KEY, window=5)
    assert "my app" in out  # a public header is shown as it is


# ---- the key's origin --------------------------------------------------------------------------


def test_a_redirect_to_another_origin_never_carries_the_key(
        loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    configure(loopback.url)
    with LoopbackServer() as other:  # another port on the same host: another origin
        other.always(CHAT, sse_reply(["stolen"]))
        other.always("models", json_reply({"data": [{"id": "stolen"}]}))
        loopback.script(CHAT, json_reply({}, 307, {"Location": f"{other.url}/{CHAT}"}))
        loopback.script("models", json_reply({}, 302, {"Location": f"{other.url}/models"}))

        asked = run_cli("ask", "hi")
        assert asked.returncode == 1
        err = clean(asked)
        assert err.count("\n") == 1 and "redirected to another origin" in err
        listed = run_cli("models", "--refresh", "--json")
        clean(listed)
        assert "stolen" not in {m["id"] for m in json.loads(listed.stdout)}
        assert all("authorization" not in r.headers for r in other.requests)
        assert other.requests == []  # refused outright, not just stripped
    assert [r.headers["authorization"] for r in loopback.requests] == [f"Bearer {KEY}"] * 2


def test_each_provider_key_goes_only_to_that_provider(
        loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEY_A", "sk-aaaa-0123456789abcdef")
    monkeypatch.setenv("KEY_B", "sk-bbbb-0123456789abcdef")
    with LoopbackServer() as second:
        configure(loopback.url, key_line='api_key_env = "KEY_A"')
        path = Path(os.environ["CHATTERM_CONFIG"])
        path.write_text(path.read_text() + f'[providers.other]\nbase_url = "{second.url}"\n'
                        'api_key_env = "KEY_B"\ndefault_model = "m"\n')
        loopback.script(CHAT, sse_reply(["from a"]))
        second.script(CHAT, sse_reply(["from b"]))
        assert run_cli("ask", "--provider", "other", "hi").returncode == 0
        assert run_cli("ask", "-c", "--provider", "loop", "and you?").returncode == 0
        assert [r.headers["authorization"] for r in second.requests] == [
            "Bearer sk-bbbb-0123456789abcdef"]
    assert [r.headers["authorization"] for r in loopback.requests] == [
        "Bearer sk-aaaa-0123456789abcdef"]


# ---- files on disk -----------------------------------------------------------------------------


def cli_with_umask_000(*args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    code = "import os, sys; os.umask(0); from chatterm.cli.main import main; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=REPO_ROOT,
                          capture_output=True, stdin=subprocess.DEVNULL, timeout=60)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_data_dir_is_0700_and_its_files_0600_even_with_umask_000(
        loopback: LoopbackServer, isolated_env: Path, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    configure(loopback.url)
    data = isolated_env / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)  # a dir left world-readable by something else is tightened
    loopback.always(CHAT, sse_reply(["private"]))
    loopback.script("models", json_reply({"data": [{"id": "m"}]}))
    assert cli_with_umask_000("ask", "hi").returncode == 0
    assert cli_with_umask_000("models", "--refresh").returncode == 0
    assert cli_with_umask_000("config", "set", "default_model", "m").returncode == 0
    export = tmp_path / "exported.md"
    assert cli_with_umask_000("export", newest_conversation_id(), "-o", str(export)
                              ).returncode == 0

    assert mode(data) == 0o700
    for path in data.rglob("*"):
        assert mode(path) == (0o700 if path.is_dir() else 0o600), path
    assert {p.name for p in data.iterdir()} >= {"chatterm.db"}
    cache = isolated_env / "cache"
    assert mode(cache) == 0o700 and any(cache.rglob("*"))
    for path in cache.rglob("*"):
        assert mode(path) == (0o700 if path.is_dir() else 0o600), path
    assert mode(Path(os.environ["CHATTERM_CONFIG"])) == 0o600
    assert mode(export) == 0o600


def test_exports_replace_the_file_atomically(
        loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    configure(loopback.url)
    loopback.script(CHAT, sse_reply(["0123456789abcdef" * 4096] * 16))  # a 1 MB reply
    assert run_cli("ask", "big one").returncode == 0
    conversation_id = newest_conversation_id()
    target = tmp_path / "exports" / "chat.json"
    target.parent.mkdir()
    target.write_text(json.dumps({"old": "export"}))
    target.chmod(0o644)
    old_file = target.open("rb")  # holding it open also keeps its inode from being reused

    seen: list[str] = []
    stop = threading.Event()

    def reader() -> None:  # a reader racing the exports must only ever see whole files
        while not stop.is_set():
            try:
                data = target.read_bytes()
            except FileNotFoundError:
                seen.append("missing")
                continue
            try:
                json.loads(data)
            except ValueError:
                seen.append(f"partial ({len(data)} bytes)")

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(3):
            done = run_cli("export", conversation_id, "--format", "json", "-o", str(target))
            assert done.returncode == 0, done.stderr
    finally:
        stop.set()
        thread.join(timeout=30)
    assert seen == []
    with old_file:  # the old file was replaced by a rename, never rewritten in place
        assert os.fstat(old_file.fileno()).st_nlink == 0
        assert os.fstat(old_file.fileno()).st_ino != target.stat().st_ino
        assert json.loads(old_file.read()) == {"old": "export"}
    assert mode(target) == 0o600
    assert json.loads(target.read_text())["id"] == conversation_id
    assert [p.name for p in target.parent.iterdir()] == ["chat.json"]  # no temp files left


# ---- keys and URLs that would otherwise leak through transport errors ---------------------------


def test_a_key_that_cannot_be_sent_in_a_header_is_one_line(loopback: LoopbackServer) -> None:
    configure(loopback.url)
    key = "sk-live-0123456789abcdefé"  # pasted with a stray character
    result = run_cli("ask", "hi", env={KEY_ENV: key})
    clean(result, key)
    assert result.returncode in (1, 2) and result.stderr.count(b"\n") == 1
    assert loopback.requests == []


def test_a_key_with_a_line_break_is_never_printed(loopback: LoopbackServer) -> None:
    configure(loopback.url)
    result = run_cli("ask", "hi", env={KEY_ENV: "firstpart-0123\nsecondpart-4567"})
    err = clean(result, "secondpart-4567")
    assert "firstpart-0123" not in err and err.count("\n") == 1


def test_credentials_in_base_url_are_refused_and_never_printed_sent_or_cached(
        loopback: LoopbackServer, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # httpx would send them as `Authorization: Basic …` in place of the key's Bearer header.
    monkeypatch.setenv(KEY_ENV, KEY)
    configure(loopback.url.replace("http://", "http://alice:hunter2-proxy-pass@"))
    loopback.script("models", json_reply({"data": [{"id": "m"}]}))
    for args in (("ask", "hi"), ("models", "--refresh"), ("config", "show")):
        result = run_cli(*args)
        err = clean(result, "hunter2-proxy-pass")
        assert result.returncode == 2 and err.count("\n") == 1, err
        assert "base_url must not hold a user:password@ part" in err
    assert loopback.requests == []
    config_file = Path(os.environ["CHATTERM_CONFIG"])
    assert files_holding(isolated_env, "hunter2-proxy-pass") == [config_file]
