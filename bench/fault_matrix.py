"""The fault matrix: every network, server, crash and input fault chatterm is tested
against, run through real `chatterm ask` processes and a loopback HTTP server.

    python bench/fault_matrix.py

Prints a Markdown table (scenario | outcome | retries | saved | lost | peak RSS), the
bytes a SIGKILL mid-stream lost, and the concurrent-writers result. Nothing leaves
127.0.0.1 except one DNS lookup of a `.invalid` name, which resolvers answer locally or
refuse. Runs in well under three minutes on two cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from bombs import gzip_repeat, zero_bomb  # noqa: E402
from chatterm_env import PEAK_RSS_LAUNCHER  # noqa: E402
from loopback import (  # noqa: E402
    Delay,
    Drop,
    Hold,
    LoopbackServer,
    Reply,
    Stall,
    blackhole,
    free_port,
    json_reply,
    sse_chunks,
    sse_event,
    sse_reply,
    stream_reply,
    text_reply,
)

from chatterm.conversation import Message, Role  # noqa: E402
from chatterm.store import Store  # noqa: E402

KEY = "sk-matrix-0123456789abcdefghij"
KEY_ENV = "MATRIX_API_KEY"
CHAT = "chat/completions"
PARTIAL = ["The answer ", "is forty"]  # what streams before a mid-reply fault
MB = 1024 * 1024


# ---- running chatterm -------------------------------------------------------------------


@dataclass
class Run:
    code: int
    stdout: bytes
    stderr: str
    peak_rss_kb: int


def home_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "CHATTERM_CONFIG": str(home / "config.toml"),
        "CHATTERM_DATA_DIR": str(home / "data"),
        "CHATTERM_CACHE_DIR": str(home / "cache"),
        "PYTHONPATH": str(REPO),
        "CHATTERM_BACKOFF_BASE": "0.05",
        KEY_ENV: KEY,
        # A resolver that does not answer gives up after ~1 s instead of ~10.
        "RES_OPTIONS": "timeout:1 attempts:1",
    })
    return env


def write_config(home: Path, base_url: str, *, max_retries: int = 2, read_timeout: float = 5,
                 connect_timeout: float = 2, bom: bool = False, extra: str = "",
                 key_env: bool = True) -> None:
    key_line = f'api_key_env = "{KEY_ENV}"\n' if key_env else ""
    (home / "config.toml").write_text(
        ("\ufeff" if bom else "")  # an editor's byte-order mark
        + 'default_provider = "loop"\ndefault_model = "m"\n[providers.loop]\n'
        f'base_url = "{base_url}"\n{key_line}max_retries = {max_retries}\n'
        f"read_timeout = {read_timeout}\nconnect_timeout = {connect_timeout}\n{extra}")
    (home / "config.toml").chmod(0o600)




@dataclass
class Child:
    proc: subprocess.Popen[bytes]
    out: Any
    err: Any
    rss_file: Path | None


def spawn(env: dict[str, str], args: list[str], stdin: bytes = b"", *,
          measured: bool = True) -> Child:
    """Start `chatterm ARGS`; `measured` goes through the launcher (no signalling then)."""
    command = [sys.executable, "-m", "chatterm", *args]
    rss_file = None
    if measured:
        fd, name = tempfile.mkstemp(prefix="rss-")
        os.close(fd)
        rss_file = Path(name)
        command = [sys.executable, "-S", "-c", PEAK_RSS_LAUNCHER, name, *command]
    with tempfile.TemporaryFile() as inp:
        inp.write(stdin)
        inp.seek(0)
        out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()  # noqa: SIM115
        proc = subprocess.Popen(command, stdin=inp, stdout=out, stderr=err, env=env, cwd=REPO)
    return Child(proc, out, err, rss_file)


def reap(child: Child, timeout: float = 90) -> Run:
    try:
        child.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        child.proc.kill()
        child.proc.wait()
    child.out.seek(0)
    child.err.seek(0)
    rss = 0
    if child.rss_file is not None:
        with contextlib.suppress(ValueError, OSError):
            rss = int(child.rss_file.read_text() or 0)
        child.rss_file.unlink(missing_ok=True)
    run = Run(child.proc.returncode, child.out.read(),
              child.err.read().decode("utf-8", "replace"), rss)
    child.out.close()
    child.err.close()
    return run


def ask(env: dict[str, str], *args: str, stdin: bytes = b"") -> Run:
    return reap(spawn(env, ["ask", *args] if args else ["ask", "hi"], stdin))


def last_reply(home: Path) -> Message | None:
    path = home / "data" / "chatterm.db"
    if not path.exists():
        return None
    with Store.open(path) as store:
        conv_id = store.last_conversation_id()
        if conv_id is None:
            return None
        messages = store.get_conversation(conv_id, last_n=1).messages
    return messages[0] if messages and messages[0].role is Role.ASSISTANT else None


# ---- scenarios ----------------------------------------------------------------------------


@dataclass
class Scenario:
    name: str
    replies: list[Reply] | Callable[[], list[Reply]] = field(default_factory=list)
    expected: str = ""  # the reply text the server got out before the fault
    base_url: str | None = None  # instead of the loopback server
    config: dict[str, Any] = field(default_factory=dict)
    stdin: bytes = b""
    interrupt_on: str | None = None  # send SIGINT once stderr shows this
    args: tuple[str, ...] = ()  # extra `chatterm ask` options


def partial_then(*steps: Any) -> Reply:
    head = sse_chunks(PARTIAL, finish_reason=None, done=False)
    return stream_reply([*head, *steps])


def content_chunk(json_text: str) -> bytes:
    """One chunk event whose content is `json_text`, as written inside a JSON string."""
    return f'data: {{"choices":[{{"index":0,"delta":{{"content":"{json_text}"}}}}]}}\n\n'.encode()


def http_date(seconds_ahead: float) -> str:
    return email.utils.formatdate(time.time() + seconds_ahead, usegmt=True)


def scenarios(loop_url: str, other_url: str, hole_url: str) -> list[Scenario]:
    ok = sse_reply(["all ", "good"])
    openai_error = {"error": {"message": "Incorrect API key provided: sk-matr*****ghij",
                              "type": "invalid_request_error", "code": "invalid_api_key"}}
    proxy_page = ("<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 "
                  "Bad Gateway</h1></center><hr><center>nginx/1.25.3</center></body></html>")
    huge_junk = b"data: " + b"x" * (12 * MB) + b"\n\n"
    big_chunk = sse_event({"choices": [{"index": 0, "delta": {"content": "y" * (5 * MB)}}]})
    one_mb = [("0123456789abcdef" * 256)] * 256  # 256 chunks of 4 KiB
    # 400,000 events, written 2,000 per HTTP chunk (the assembler's cost per token is flat).
    many_tokens = [b"".join([content_chunk("token.. ")] * 2000)] * 200 + sse_chunks([])
    gz3 = {"Content-Encoding": "gzip, gzip, gzip"}
    sse_h = {"Content-Type": "text/event-stream"}
    json_h = {"Content-Type": "application/json"}
    head = b'{"choices":[{"index":0,"message":{"role":"assistant","content":"'
    over_cap = gzip_repeat(b"z" * MB, 48, head, b'"},"finish_reason":"stop"}]}')
    deep = "[" * 1000 + "]" * 1000
    not_gzip = {"Content-Encoding": "gzip"}
    return [
        Scenario("connection refused", base_url=f"http://127.0.0.1:{free_port()}/v1"),
        Scenario("host name does not resolve", base_url="http://chatterm-nonexistent.invalid/v1"),
        Scenario("connect timeout (accept queue full)", base_url=hole_url,
                 config={"connect_timeout": 0.5, "max_retries": 1}),
        Scenario("401 bad key", [json_reply(openai_error, 401)]),
        Scenario("401 body echoing the whole key", [json_reply(
            {"error": {"message": f"Incorrect API key provided: {KEY}"}}, 401)]),
        Scenario("403 AI/ML API out of credits", [json_reply(
            {"statusCode": 403, "message": "You've run out of credits. Please top up your "
             "balance", "error": "Forbidden"}, 403)]),
        Scenario("404 unknown model", [json_reply({"error": {
            "message": "The model `m` does not exist", "code": "model_not_found"}}, 404)]),
        Scenario("400 bad request", [json_reply({"error": {
            "message": "max_tokens is too large", "type": "invalid_request_error"}}, 400)]),
        Scenario("422 validation (FastAPI detail)", [json_reply({"detail": [{
            "loc": ["body", "temperature"], "msg": "ensure this value is less than or equal "
            "to 2", "type": "value_error"}]}, 422)]),
        Scenario("429 Retry-After: 1, then 200",
                 [json_reply({"error": {"message": "Rate limit"}}, 429, {"Retry-After": "1"}),
                  ok], "all good"),
        Scenario("429 Retry-After: HTTP date, then 200",
                 lambda: [json_reply({"error": {"message": "Rate limit"}}, 429,
                                     {"Retry-After": http_date(2)}), ok], "all good"),
        Scenario("429 Retry-After: 3600 (capped; Ctrl+C while waiting)",
                 [json_reply({"error": {"message": "Rate limit"}}, 429,
                             {"Retry-After": "3600"})], interrupt_on="retrying in"),
        *[Scenario(f"{status} every time", [json_reply({"error": {"message": "upstream "
                   "trouble"}}, status) for _ in range(3)]) for status in (500, 502, 503, 504)],
        Scenario("503, then 200", [json_reply({"error": {"message": "busy"}}, 503), ok],
                 "all good"),
        Scenario("502 proxy HTML page", [text_reply(proxy_page, 502, "text/html")] * 3),
        Scenario("no answer at all (read timeout)", [Reply(before=[Stall(30)])],
                 config={"read_timeout": 1}),
        Scenario("hang-up before answering, then 200", [Reply(before=[Drop()]), ok],
                 "all good"),
        Scenario("redirect to another origin", [json_reply(
            {}, 307, {"Location": f"{other_url}/chat/completions"})]),
        Scenario("drop after tokens", [partial_then(Drop())], "".join(PARTIAL)),
        Scenario("TCP reset after tokens", [partial_then(Drop(reset=True))], "".join(PARTIAL)),
        Scenario("stall after tokens > read_timeout", [partial_then(Stall(30))],
                 "".join(PARTIAL), config={"read_timeout": 1}),
        Scenario("`event: error` after tokens", [partial_then(sse_event(
            {"error": {"message": "upstream overloaded"}}, event="error"))], "".join(PARTIAL)),
        Scenario("chunk with `error` object after tokens", [partial_then(sse_event(
            {"error": {"message": "Token limit reached", "code": 400}}))], "".join(PARTIAL)),
        Scenario("clean end without finish_reason", [partial_then()], "".join(PARTIAL)),
        Scenario("malformed JSON chunk mid-stream", [stream_reply([
            *sse_chunks(["before "], finish_reason=None, done=False), b'data: {"choices": [\n\n',
            *sse_chunks(["after"])])], "before after"),
        Scenario("non-JSON chunk mid-stream", [stream_reply([
            *sse_chunks(["before "], finish_reason=None, done=False),
            b"data: <html>oops</html>\n\n", *sse_chunks(["after"])])], "before after"),
        Scenario("12 MB single line (over the 8 MiB cap)", [stream_reply([
            *sse_chunks(["before "], finish_reason=None, done=False), huge_junk,
            *sse_chunks(["after"])])], "before after"),
        Scenario("5 MB single chunk (under the cap)", [stream_reply([
            big_chunk, *sse_chunks([" end"])])], "y" * (5 * MB) + " end"),
        Scenario("non-UTF-8 bytes in a chunk", [stream_reply([
            b'data: {"choices":[{"index":0,"delta":{"content":"ok \xff\xfe done"}}]}\n\n',
            *sse_chunks([])])], "ok \ufffd\ufffd done"),
        Scenario("1 MB reply", [sse_reply(one_mb)], "".join(one_mb)),
        Scenario("broken chunk quoting the Authorization header", [stream_reply([
            *sse_chunks(["before "], finish_reason=None, done=False),
            f'data: {{"echo": {{"Authorization": "Bearer {KEY}"\n\n'.encode(),
            *sse_chunks(["after"])])], "before after"),
        Scenario("401 echoing the key upper-cased, with a NUL inside", [json_reply({"error": {
            "message": f"bad key {KEY.upper()[:9]}\x00{KEY.upper()[9:]}"}}, 401)]),
        Scenario("usage record echoing the key", [sse_reply(["all ", "good"], usage={
            "total_tokens": 3, "debug": f"Bearer {KEY}"})], "all good"),
        Scenario("base_url with user:password@",
                 base_url=loop_url.replace("http://", "http://alice:S3cret-pw@")),
        Scenario("config file starting with a UTF-8 BOM", [ok], "all good", config={"bom": True}),
        Scenario("UTF-16 surrogate pair split across two chunks, and a lone half",
                 [stream_reply([content_chunk("smile \\ud83d"),
                                content_chunk("\\ude00 lone \\udc00 end"), *sse_chunks([])])],
                 "smile \U0001f600 lone \ufffd end"),
        Scenario("400,000 tokens of 8 bytes (3.2 MB)", [stream_reply(many_tokens)],
                 "token.. " * 400_000),
        Scenario("api_key_command = \"yes\" (prints without end)",
                 config={"key_env": False, "extra": 'api_key_command = "yes"\n'}),
        Scenario("read_timeout = nan in the config", [ok], config={"read_timeout": "nan"}),
        Scenario("usage cost 1e999 (parses as infinity)", [stream_reply([
            content_chunk("priced"),
            b'data: {"choices":[],"usage":{"completion_tokens":1,"cost":1e999}}\n\n',
            *sse_chunks([])])], "priced"),
        Scenario("1 MB prompt on stdin", [ok], "all good",
                 stdin=("prompt " * (MB // 7 + 1)).encode()[:MB]),
        Scenario("gzip bomb, streamed: `gzip, gzip, gzip`, ~250 B → 1 GiB",
                 [Reply(200, {**sse_h, **gz3}, [zero_bomb(1024)], chunked=False)]),
        Scenario("gzip bomb as a non-streamed 200 JSON answer (`--no-stream`)",
                 [Reply(200, {**json_h, **gz3}, [zero_bomb(1024)], chunked=False)],
                 args=("--no-stream",)),
        Scenario("non-streamed reply of 48 MiB (over the 32 MiB cap; the part that fits "
                 "is expected)", [Reply(200, {**json_h, **not_gzip}, [over_cap],
                                        chunked=False)],
                 "z" * (32 * MB - len(head)), args=("--no-stream",)),
        Scenario("body labelled gzip that is not gzip (200)",
                 [Reply(200, {**sse_h, **not_gzip}, [b"data: plain\n\n"], chunked=False)]),
        Scenario("503 labelled gzip that is not gzip, then 200",
                 [Reply(503, {**json_h, **not_gzip}, [b"busy"], chunked=False), ok],
                 "all good"),
        Scenario("1,000-level nested JSON in a data line, text around it in the same read",
                 [stream_reply([b"".join([*sse_chunks(["before "], finish_reason=None,
                                                      done=False), sse_event(deep),
                                          *sse_chunks(["after"])])])], "before after"),
        Scenario("1,000-level nested JSON as a 400 error body",
                 [text_reply(deep, 400, "application/json")]),
        Scenario("1 MB response header", [json_reply({}, 200, {"X-Huge": "a" * MB})] * 3),
        Scenario("HTML page as a 200 answer", [text_reply(
            "<html><head><title>Sign in</title></head><body>portal</body></html>", 200,
            "text/html")]),
        Scenario("header name HTTP cannot send in the config (`X Team`)", [ok] * 3,
                 config={"extra": 'headers = { "X Team" = "blue" }\n'}),
    ]


@dataclass
class Row:
    scenario: str
    outcome: str
    retries: str
    saved: str
    lost: str
    rss: str


def leaks(text: str) -> bool:
    """Any 20 characters of the key (a key cut short still counts), in any case, with
    invisible characters taken out. Shorter runs would match the 1 MB reply's digits."""
    seen = "".join(ch for ch in text if ch not in "\x00\u200b\u200c\u200d\u2060\ufeff").lower()
    return any(KEY[i:i + 20].lower() in seen for i in range(len(KEY) - 19))


def shorten(text: str, limit: int = 110) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def run_scenario(sc: Scenario, loop: LoopbackServer, root: Path) -> Row:
    home = Path(tempfile.mkdtemp(dir=root))
    env = home_env(home)
    write_config(home, sc.base_url or loop.url, **sc.config)
    loop.script(CHAT, sc.replies() if callable(sc.replies) else sc.replies)
    before = len(loop.requests)
    shown_rss = "-"
    if sc.interrupt_on:
        child = spawn(env, ["ask", "hi"], sc.stdin, measured=False)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            child.err.seek(0)
            if sc.interrupt_on in child.err.read().decode("utf-8", "replace"):
                break
            time.sleep(0.05)
        child.proc.send_signal(signal.SIGINT)
        run = reap(child)
    else:
        run = ask(env, *sc.args, "hi", stdin=sc.stdin)
        shown_rss = f"{run.peak_rss_kb / 1024:.0f} MB"
    requests = len(loop.requests) - before
    with loop._lock:  # leave no scripted reply behind for the next scenario
        loop._queues.clear()
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    retries = sum("retrying in" in line for line in lines)
    last = lines[-1] if lines else "(nothing on stderr)"
    if "Traceback" in run.stderr:
        last = "TRACEBACK: " + last
    if leaks(run.stderr) or leaks(run.stdout.decode("utf-8", "replace")):
        last = "KEY LEAKED: " + last
    saved_files = [p for p in (home / "data").glob("chatterm.db*") if p.is_file()]
    if any(leaks(p.read_bytes().decode("latin-1")) for p in saved_files):
        last = "KEY SAVED: " + last
    reply = last_reply(home)
    if reply is None:
        saved, lost = "nothing saved", "yes" if sc.expected else "no"
    else:
        saved = f"{reply.state.value}, {len(reply.content):,} chars"
        if reply.content == sc.expected:
            lost = "no"
        elif sc.expected.startswith(reply.content):
            lost = f"yes ({len(sc.expected) - len(reply.content):,} chars)"
        else:
            lost = "DIFFERENT TEXT"
    last = last.replace(str(home), "<home>")  # a temp dir name says nothing in the table
    shown = f"{run.code}: " + shorten(last.removeprefix("chatterm: "))
    extra = f" ({requests} requests)" if requests > 1 + retries else ""
    return Row(sc.name, shown, f"{retries}{extra}", saved, lost, shown_rss)


# ---- crash: SIGKILL mid-stream ----------------------------------------------------------------


class SentCounter:
    """A Hold step's event that never blocks: it counts the tokens written before it."""

    def __init__(self, counter: list[int], index: int) -> None:
        self.counter, self.index = counter, index

    def is_set(self) -> bool:
        self.counter[0] = self.index + 1
        return True


def crash_run(loop: LoopbackServer, root: Path, token: str = "tok-0123 ", interval: float = 0.05,
              kill_after: int = 30) -> tuple[int, int, int, str]:
    """(bytes sent before the kill, bytes saved, bytes lost, state after restart)."""
    home = Path(tempfile.mkdtemp(dir=root))
    env = home_env(home)
    write_config(home, loop.url)
    count = 400
    sent = [0]
    steps: list[Any] = []
    for i, event in enumerate(sse_chunks([token] * count, finish_reason=None, done=False)):
        steps += [event, Hold(SentCounter(sent, i)), Delay(interval)]  # type: ignore[arg-type]
    loop.script(CHAT, stream_reply(steps))
    proc = subprocess.Popen([sys.executable, "-m", "chatterm", "ask", "go"], env=env, cwd=REPO,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    received = b""
    while len(received) < kill_after * len(token):
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            break
        received += chunk
    proc.kill()
    sent_tokens = sent[0]
    proc.wait()
    proc.stdout.close()
    subprocess.run([sys.executable, "-m", "chatterm", "list"], env=env, cwd=REPO,
                   capture_output=True, timeout=60)
    reply = last_reply(home)
    saved = reply.content if reply else ""
    sent_bytes = sent_tokens * len(token)
    return sent_bytes, len(saved), sent_bytes - len(saved), reply.state.value if reply else "-"


# ---- concurrent writers -------------------------------------------------------------------


async def drive_tui(prompts: list[str]) -> str:
    """Send prompts through the real app, headless, one after another; its conversation id."""
    from ui_helpers import make_app, wait_until

    app = make_app()
    try:
        async with app.run_test(size=(100, 32)) as pilot:
            for done, prompt in enumerate(prompts, 1):
                app.chat.prompt.insert(prompt)
                await pilot.press("enter")
                await wait_until(pilot, lambda n=2 * done: (
                    len(app.chat.conversation.messages) >= n and not app.chat.busy),
                    timeout=60, what="the reply")
            return str(app.chat.conversation.id)
    finally:
        if app.store is not None:
            app.store.close()


def concurrency_run(loop: LoopbackServer, root: Path, asks: int = 6) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(dir=root))
    env = home_env(home)
    write_config(home, loop.url)
    words = [f"w{i} " for i in range(20)]
    reply_text = "".join(words)
    loop.always(CHAT, sse_reply(words, delay=0.02))
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    conversations: dict[str, str] = {}
    failures: list[str] = []

    def ask_loop(tag: str) -> None:
        conv: str | None = None
        for i in range(asks):
            args = ["ask", "--json", f"{tag}-{i}"] + (["--conversation", conv] if conv else [])
            run = reap(spawn(env, args, measured=False))
            if run.code != 0:
                failures.append(f"{tag}-{i}: {run.stderr.strip()}")
                continue
            conv = conv or json.loads(run.stdout)["conversation_id"]
        conversations[tag] = conv or ""

    threads = [threading.Thread(target=ask_loop, args=(tag,)) for tag in ("cli-a", "cli-b")]
    for thread in threads:
        thread.start()
    writer = "TUI (headless)"
    try:
        conversations["tui"] = asyncio.run(drive_tui([f"tui-{i}" for i in range(asks)]))
    except Exception as exc:  # report, don't hide: the row below says what happened
        failures.append(f"tui: {type(exc).__name__}: {exc}")
        writer = "TUI (failed)"
    for thread in threads:
        thread.join(timeout=180)
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    loop._always.clear()
    written = 3 * asks * 2
    found = complete = 0
    with Store.open(home / "data" / "chatterm.db") as store:
        for tag, conv_id in conversations.items():
            if not conv_id:
                continue
            for i, message in enumerate(store.get_conversation(conv_id).messages):
                if message.role is Role.USER and message.content == f"{tag}-{i // 2}":
                    found += 1
                elif message.role is Role.ASSISTANT and message.content == reply_text:
                    found += 1
                    complete += message.state.value == "complete"
    conn = sqlite3.connect(home / "data" / "chatterm.db")
    integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    conn.close()
    return {"writers": f"2 `chatterm ask` loops + {writer}", "written": written,
            "found": found, "complete": complete, "integrity": integrity,
            "failures": failures}


# ---- data files and imports --------------------------------------------------------------------

# The real CLI with one extra (failing) migration, as a broken future chatterm would have.
FAILING_MIGRATION = """
import sys
from chatterm.store import schema
from chatterm.cli.main import main
def broken(conn):
    conn.execute("ALTER TABLE conversations ADD COLUMN pinned INTEGER")
    raise RuntimeError("disk gremlins")
schema.MIGRATIONS.append(schema.Migration(schema.latest_version(schema.MIGRATIONS) + 1,
                                          "pinned", broken))
sys.exit(main(sys.argv[1:]))
"""


def seeded_home(loop: LoopbackServer, root: Path) -> tuple[Path, dict[str, str]]:
    home = Path(tempfile.mkdtemp(dir=root))
    env = home_env(home)
    write_config(home, loop.url)
    loop.script(CHAT, sse_reply(["keep ", "me"] * 300))
    ask(env, "seed")
    return home, env


def cli(env: dict[str, str], *args: str, stdin: bytes = b"") -> Run:
    return reap(spawn(env, list(args), stdin))


def file_rows(loop: LoopbackServer, root: Path) -> list[Row]:
    rows = []

    def data_file_row(name: str, damage: Callable[[Path], None], seed: bool = False,
                      command: list[str] | None = None) -> None:
        if seed:
            home, env = seeded_home(loop, root)
        else:
            home = Path(tempfile.mkdtemp(dir=root))
            env = home_env(home)
            write_config(home, loop.url)
            (home / "data").mkdir()
        db = home / "data" / "chatterm.db"
        damage(db)
        before = db.read_bytes()
        command = command or [sys.executable, "-m", "chatterm", "list"]
        run = reap(Child(*_raw_spawn(env, command), None))
        lines = run.stderr.strip().splitlines() or ["(nothing)"]
        same = "file unchanged" if db.read_bytes() == before else "FILE CHANGED"
        backups = sorted(p.name for p in db.parent.glob("*.bak-*"))
        saved = same + (f", backup {', '.join(backups)}" if backups else "")
        line = lines[-1].removeprefix("chatterm: ").replace(str(db.parent), "<data dir>")
        rows.append(Row(name, f"{run.code}: {shorten(line)}", "-", saved,
                        "no" if same == "file unchanged" else "yes", "-"))

    def text_file(path: Path) -> None:
        path.write_text("my shopping list\n")

    def foreign(path: Path) -> None:
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE recipes (name TEXT)")
        conn.commit()
        conn.close()

    def corrupt(path: Path) -> None:
        size = path.stat().st_size
        with path.open("r+b") as handle:
            handle.seek(4096)
            handle.write(bytes(range(256)) * ((size - 4096) // 256 + 1))

    def unchanged(path: Path) -> None:
        return None

    data_file_row("data file is a text file", text_file)
    data_file_row("data file is another app's SQLite db", foreign)
    data_file_row("data file corrupt (pages overwritten)", corrupt, seed=True)
    data_file_row("schema migration fails half-way", unchanged, seed=True,
                  command=[sys.executable, "-c", FAILING_MIGRATION, "list"])

    def wal_directory(path: Path) -> None:
        path.with_name(path.name + "-wal").mkdir()

    data_file_row("a directory where the -wal file goes", wal_directory, seed=True)

    def messages_pages_damaged(path: Path) -> None:
        conn = sqlite3.connect(path)
        pages = [row[0] for row in conn.execute(
            "SELECT pageno FROM dbstat WHERE name = 'messages' AND pagetype = 'leaf'")]
        conn.close()
        with path.open("r+b") as handle:
            for page in pages:
                handle.seek((page - 1) * 4096)
                handle.write(bytes(range(256)) * 16)

    data_file_row("`ask` when the page it must write is damaged", messages_pages_damaged,
                  seed=True, command=[sys.executable, "-m", "chatterm", "ask", "hi"])
    rows.append(doctor_row(loop, root))
    rows.extend(read_only_rows(loop, root))
    rows.extend(export_target_rows(loop, root))
    rows.extend(disk_full_rows(loop, root))

    rows.append(lock_row(loop, root))

    conv_export = json.dumps({"format": "chatterm", "version": 1, "id": "imp1",
                              "provider": "p", "model": "m", "created_at": 1, "messages": [
                                  {"id": f"m{i}", "role": "user", "created_at": 2 + i,
                                   "content": f"message {i} ü"} for i in range(1000)]},
                             ensure_ascii=False)
    raw = conv_export.encode()
    at = raw.index("message 900 ü".encode())
    bad_utf8 = raw[:at] + b"message 900 \xc3\x28" + raw[at + len("message 900 ü".encode()):]
    huge = {"format": "chatterm", "version": 1, "id": "big1", "provider": "p", "model": "m",
            "created_at": 1, "title": "marathon", "messages": [
                {"id": f"h{i}", "role": "user" if i % 2 == 0 else "assistant",
                 "created_at": 2 + i, "content": f"turn {i}"} for i in range(100_000)]}
    for name, data in (("import: invalid UTF-8 at message 900", bad_utf8),
                       ("import: JSON cut off at 90 %", raw[: len(raw) * 9 // 10]),
                       ("import: 100,000 messages", json.dumps(huge).encode()),
                       ("import: id holding ESC[2J and OSC 52", json.dumps(
                           {**json.loads(conv_export), "id": "\x1b[2J\x1b]52;c;eA==\x07x"}
                       ).encode())):
        home = Path(tempfile.mkdtemp(dir=root))
        env = home_env(home)
        write_config(home, loop.url)
        run = cli(env, "import", "-", stdin=data)
        with Store.open(home / "data" / "chatterm.db") as store:
            found = [(s.title, s.message_count) for s in store.list_conversations()]
        lines = run.stderr.strip().splitlines() or [f"imported {run.stdout.decode().strip()}"]
        if run.code == 0:
            opened = cli(env, "show", "big1", "--json")
            count = len(json.loads(opened.stdout)["messages"]) if opened.code == 0 else 0
            saved = f"{found[0][1]:,} messages; `show` returns {count:,}"
        else:
            saved = "nothing imported" if not found else f"HALF-IMPORTED: {found}"
        rows.append(Row(name, f"{run.code}: {shorten(lines[-1].removeprefix('chatterm: '))}",
                        "-", saved, "no", f"{run.peak_rss_kb / 1024:.0f} MB"))
    rows.append(long_message_row(loop, root))
    return rows


def long_message_row(loop: LoopbackServer, root: Path) -> Row:
    """`search` and `show` over a 20 MB message whose every other word is the one searched."""
    from chatterm.conversation import Conversation

    home = Path(tempfile.mkdtemp(dir=root))
    env = home_env(home)
    write_config(home, loop.url)
    text = "word filler " * (20 * MB // 12) + "needle"
    with Store.open(home / "data" / "chatterm.db") as store:
        conv = Conversation(provider="loop", model="m", title="long")
        store.create_conversation(conv)
        store.add_message(Message(role=Role.ASSISTANT, content=text, conversation_id=conv.id))
    timings = []
    for args in (["search", "word"], ["search", "needle"], ["show", conv.id]):
        started = time.monotonic()
        run = cli(env, *args)
        timings.append(f"`{args[0]} {args[1][:6]}`: exit {run.code}, "
                       f"{time.monotonic() - started:.1f} s")
    return Row("search / show over a 20 MB message dense with hits", "; ".join(timings), "-",
               f"{len(text):,} chars", "no", f"{run.peak_rss_kb / 1024:.0f} MB")


KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from chatterm import safe_write
fd, temp = safe_write.open_temp(Path(sys.argv[1]), sys.argv[2])
os.write(fd, b"half of an export " * 1000)
os.kill(os.getpid(), signal.SIGKILL)
"""


def export_target_rows(loop: LoopbackServer, root: Path) -> list[Row]:
    """`export -o` to a symlink, into a FIFO, and after an export killed mid-write."""
    home, env = seeded_home(loop, root)
    out = home / "out"
    out.mkdir()
    conv_id = json.loads(cli(env, "list", "--json").stdout)[0]["id"]
    rows = []

    def row(name: str, run: Run, saved: str, ok: bool) -> None:
        lines = run.stderr.strip().splitlines() or ["(nothing on stderr)"]
        line = lines[-1].removeprefix("chatterm: ").replace(str(out), "<dir>")
        rows.append(Row(name, f"{run.code}: {shorten(line)}", "-", saved,
                        "no" if ok else "yes", "-"))

    real = out / "real.md"
    real.write_text("old")
    (out / "link.md").symlink_to(real)
    run = cli(env, "export", conv_id, "-o", str(out / "link.md"))
    kept = (out / "link.md").is_symlink() and "keep me" in real.read_text()
    row("export -o to a symlink", run,
        "link kept, target written" if kept else "LINK REPLACED", kept)

    fifo = out / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    run = cli(env, "export", conv_id, "-o", str(fifo))
    reader.join(timeout=30)
    fed = stat.S_ISFIFO(os.lstat(fifo).st_mode) and bool(got) and b"keep me" in got[0]
    row("export -o into a FIFO", run,
        f"FIFO kept, reader got {len(got[0]):,} bytes" if fed else "FIFO REPLACED", fed)

    subprocess.run([sys.executable, "-c", KILLED_WRITER, str(out), "chat.md"],
                   env={**env, "PYTHONPATH": str(REPO)}, check=False)
    run = cli(env, "export", conv_id, "-o", str(out / "chat.md"))
    left = [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    row("export killed mid-write, then exported again", run,
        "stale temp file removed" if not left else f"LEFT: {', '.join(left)}", not left)
    return rows


def doctor_row(loop: LoopbackServer, root: Path) -> Row:
    """`chatterm doctor` on 200 conversations with one of the message pages damaged."""
    from chatterm.conversation import Conversation

    home, env = seeded_home(loop, root)
    db = home / "data" / "chatterm.db"
    with Store.open(db) as store:
        for i in range(200):
            conv = Conversation(provider="loop", model="m", title=f"chat {i}")
            conv.messages = [Message(role=Role.USER, content=f"question {i} " * 20),
                             Message(role=Role.ASSISTANT, content=f"answer {i} " * 40)]
            store.create_conversation(conv)
    conn = sqlite3.connect(db)
    leaves = [row[0] for row in conn.execute(
        "SELECT pageno FROM dbstat WHERE name = 'messages' AND pagetype = 'leaf'")]
    conn.close()
    with db.open("r+b") as handle:
        handle.seek((leaves[len(leaves) // 2] - 1) * 4096)
        handle.write(bytes(range(256)) * 16)
    before = db.read_bytes()
    run = cli(env, "doctor")
    lines = [line for line in run.stdout.decode().splitlines() if line.startswith("recovered")]
    line = (lines or ["(no copy)"])[0].replace(str(db.parent), "<data dir>")
    same = db.read_bytes() == before
    ok = same and _intact(db.with_name("chatterm.db.recovered"))
    return Row(f"`chatterm doctor`, 1 of {len(leaves)} message pages damaged (402 messages)",
               f"{run.code}: {shorten(line)}", "-",
               "original unchanged, copy passes integrity_check" if ok else "FAILED",
               "1 page's rows" if ok else "yes", f"{run.peak_rss_kb / 1024:.0f} MB")


def _intact(path: Path) -> bool:
    if not path.exists():
        return False
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()


def disk_full_rows(loop: LoopbackServer, root: Path) -> list[Row]:
    """A 16 MiB tmpfs data dir filled up: `ask`, then `delete` (needs root to mount)."""
    home = Path(tempfile.mkdtemp(dir=root))
    env = home_env(home)
    write_config(home, loop.url)
    data = home / "data"
    data.mkdir()
    names = ("disk full: `ask`", "disk full: `delete` of a 48 KB conversation")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(data)],
                      capture_output=True).returncode != 0:
        return [Row(name, "skipped: cannot mount a tmpfs here (needs root)", "-", "-", "-",
                    "-") for name in names]
    try:
        loop.always(CHAT, sse_reply(["many words here " * 60] * 50))
        for i in range(4):
            ask(env, f"question {i}")
        with (data / "filler").open("wb") as handle, contextlib.suppress(OSError):
            while True:
                handle.write(b"\xff" * 65536)
                handle.flush()
        rows = []
        run = ask(env, "one more")
        line = (run.stderr.strip().splitlines() or ["(nothing)"])[-1]
        line = line.removeprefix("chatterm: ").replace(str(data), "<data dir>")
        rows.append(Row(names[0], f"{run.code}: {shorten(line)}", "-",
                        "nothing saved, nothing sent", "no", "-"))
        conv_id = json.loads(cli(env, "list", "--json").stdout)[-1]["id"]
        size = (data / "chatterm.db").stat().st_size
        run = cli(env, "delete", conv_id, "--yes")
        line = (run.stderr.strip().splitlines() or ["(nothing)"])[-1]
        after = (data / "chatterm.db").stat().st_size
        rows.append(Row(names[1], f"{run.code}: {shorten(line.removeprefix('chatterm: '))}",
                        "-", f"file {size // 1024:,} KB -> {after // 1024:,} KB", "no", "-"))
        return rows
    finally:
        subprocess.run(["umount", "-l", str(data)], check=False)


def read_only_rows(loop: LoopbackServer, root: Path) -> list[Row]:
    """`list` and `ask` with the data dir on a read-only bind mount (needs root)."""
    home, env = seeded_home(loop, root)
    data = home / "data"
    source = home / "data-source"
    data.rename(source)
    data.mkdir()
    names = ("data dir on a read-only mount: list", "data dir on a read-only mount: ask")
    if subprocess.run(["mount", "--bind", str(source), str(data)],
                      capture_output=True).returncode != 0:
        return [Row(name, "skipped: cannot bind-mount here (needs root)", "-", "-", "-", "-")
                for name in names]
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(data)], check=True)
        before = (data / "chatterm.db").read_bytes()
        rows = []
        for name, args in zip(names, (["list"], ["ask", "hi"]), strict=True):
            run = cli(env, *args)
            lines = run.stderr.strip().splitlines() or [
                f"(stdout: {run.stdout.decode().count(chr(10))} lines)"]
            line = lines[-1].removeprefix("chatterm: ").replace(str(data), "<data dir>")
            same = (data / "chatterm.db").read_bytes() == before
            rows.append(Row(name, f"{run.code}: {shorten(line)}", "-",
                            "file unchanged" if same else "FILE CHANGED",
                            "no" if same else "yes", "-"))
        return rows
    finally:
        subprocess.run(["umount", str(data)], check=False)


def lock_row(loop: LoopbackServer, root: Path) -> Row:
    """Another program holds the write lock past the 5 s busy timeout while a reply streams."""
    home, env = seeded_home(loop, root)
    words = [f"w{i:02d} " for i in range(20)]
    loop.script(CHAT, sse_reply(words, delay=0.05))
    child = spawn(env, ["ask", "while locked"], measured=False)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        child.out.seek(0)
        if child.out.read():
            break
        time.sleep(0.02)
    holder = sqlite3.connect(home / "data" / "chatterm.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    time.sleep(6.5)  # the fault itself
    holder.execute("COMMIT")
    holder.close()
    run = reap(child)
    reply = last_reply(home)
    lines = run.stderr.strip().splitlines() or ["(nothing on stderr)"]
    line = lines[-1].removeprefix("chatterm: ").replace(str(home / "data"), "<data dir>")
    saved = f"{reply.state.value}, {len(reply.content)} chars" if reply else "nothing saved"
    lost = "no" if reply and reply.content == "".join(words) else "yes"
    return Row("write lock held 6.5 s by another program mid-stream",
               f"{run.code}: {shorten(line)}", "-", saved, lost, "-")


def _raw_spawn(env: dict[str, str], command: list[str]) -> tuple[subprocess.Popen[bytes], Any,
                                                                 Any]:
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()  # noqa: SIM115
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                            env=env, cwd=REPO)
    return proc, out, err


# ---- main -------------------------------------------------------------------------------------


def main() -> int:
    started = time.monotonic()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="chatterm-matrix-") as tmp, \
            LoopbackServer() as loop, LoopbackServer() as other, blackhole() as hole:
        root = Path(tmp)
        for sc in scenarios(loop.url, other.url, hole):
            rows.append(run_scenario(sc, loop, root))
            print(f"  … {sc.name}", file=sys.stderr, flush=True)
        if other.requests:
            rows.append(Row("redirect target", "RECEIVED A REQUEST", "-", "-", "-", "-"))
        files = file_rows(loop, root)
        print("  … data files and imports", file=sys.stderr, flush=True)
        crashes = [crash_run(loop, root, kill_after=n) for n in (1, 20, 40)]
        print("  … SIGKILL runs", file=sys.stderr, flush=True)
        writers = concurrency_run(loop, root)
    print("| scenario | outcome (exit code: last stderr line) | retries | saved reply | lost "
          "| peak RSS |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row.scenario} | {row.outcome} | {row.retries} | {row.saved} | {row.lost} "
              f"| {row.rss} |")
    print()
    print("| data file / import | outcome (exit code: last stderr line) | - | saved | lost "
          "| peak RSS |")
    print("|---|---|---|---|---|---|")
    for row in files:
        print(f"| {row.scenario} | {row.outcome} | {row.retries} | {row.saved} | {row.lost} "
              f"| {row.rss} |")
    print()
    print("SIGKILL mid-stream (one 9-byte token every 50 ms = 180 B/s; 0.5 s = 90 B):")
    print()
    print("| killed after | bytes sent | bytes saved | bytes lost | state after restart |")
    print("|---|---|---|---|---|")
    for (sent, saved, lost, state), n in zip(crashes, (1, 20, 40), strict=True):
        print(f"| {n} token{'s' if n > 1 else ''} received | {sent} | {saved} | {lost} | {state} |")
    print()
    print(f"Concurrent writers ({writers['writers']}, one data dir): "
          f"{writers['found']} of {writers['written']} messages found, "
          f"{writers['complete']} replies complete, integrity_check: {writers['integrity']}"
          + (f"; failures: {writers['failures']}" if writers["failures"] else ""))
    print()
    print(f"(ran in {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
