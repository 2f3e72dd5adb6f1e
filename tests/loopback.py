"""A scripted HTTP server on 127.0.0.1 for tests and benchmarks (stdlib only).

In tests, use the `loopback` fixture (tests/conftest.py), which starts one per test:

    from loopback import Delay, Drop, Hold, Reply, Stall, json_reply, sse_chunks, sse_reply

    def test_something(loopback):
        loopback.script("chat/completions", sse_reply(["Hel", "lo"], usage={...}))
        provider = ProviderConfig(name="t", base_url=loopback.url)   # http://127.0.0.1:P/v1
        ...
        assert loopback.requests[0].json["model"] == "m"

Scripting
---------
`server.script(path, reply_or_list)` appends replies to the FIFO queue of `path`; each
request to that path takes the next one. `script(path, replies, model="m")` queues them
for requests whose JSON body names that model only (taken before the path's own queue),
for concurrent requests to several models, whose order of arrival is anyone's guess.
A path without a leading "/" is relative to "/v1/" ("chat/completions" ==
"/v1/chat/completions"); the query string is ignored.
When a path's queue is empty, `server.always(path, reply)` answers if set; otherwise the
server answers 500 with an OpenAI-style JSON body saying no reply was scripted (and
records the request, so a test can see what went unanswered).

A `Reply` is a status, headers and a body made of steps, run in order:
  - bytes / str           written and flushed at once (one HTTP chunk when chunked);
  - `Delay(seconds)`      pause (cut short when the server stops);
  - `Hold(event, timeout=30)`  wait until the test sets a `threading.Event`, e.g. to
                          assert that the first tokens arrived before the rest is sent;
  - `WaitFile(path, timeout=30)`  the same across processes: wait until a file exists;
  - `Stall(seconds=None)` send nothing for `seconds` (or until the server stops), then
                          end the body cleanly - pick a time longer than the client's
                          read timeout to test it;
  - `Drop(reset=False)`   close the connection at once, mid-body (`reset=True` sends a
                          TCP RST instead of a FIN).
`Reply(before=[...])` runs Delay/Hold/WaitFile/Stall/Drop steps before the status line:
a server that never answers (`Stall`) or hangs up without answering (`Drop`).
Bodies are sent with chunked transfer encoding by default (so a drop is detectable,
as with real servers); `Reply(..., chunked=False)` sends Content-Length when the body
is only bytes, or an EOF-delimited body otherwise. Every response has
`Connection: close`.

Helpers build common replies:
  - `json_reply(obj, status=200, headers=None)`
  - `text_reply(text, status=200, content_type="text/plain", headers=None)` (HTML pages too)
  - `sse_chunks(texts, model="test-model", finish_reason="stop", usage=None, done=True,
                reasoning=None)` -> list[bytes]: one OpenAI-style chunk event per text, a
    final chunk carrying `finish_reason` (omitted when None), a usage chunk with empty
    choices when `usage` is given, then `data: [DONE]` (when `done`).
  - `sse_event(obj, event=None)` -> bytes for one event (`obj` dict -> JSON, str as is).
  - `sse_reply(texts, *, delay=0.0, hold=None, status=200, headers=None, **sse_chunks_kw)`
    -> Reply streaming `sse_chunks(...)`, with `Delay(delay)` between events and, when
    `hold` is an Event, a `Hold` after the first event.
  - `tool_call_reply([(id, name, arguments_json), ...], content="", delay=0.0)` -> Reply
    streaming a reply that ends with those tool calls (finish_reason "tool_calls").
  - `stream_reply(steps, status=200, headers=None)` -> Reply with an SSE content type
    and any mix of bytes/str and steps.
  - `split_bytes(data, *positions)` / `byte_pieces(data, size)` cut a byte string at
    arbitrary positions, to feed a stream in awkward pieces.

Inspecting
----------
`server.requests` is a list of `Request(method, path, query, headers, body, json)`;
`headers` has lower-case names. `server.wait_for_requests(n, timeout=10)` polls until n
requests have arrived. `server.url` is "http://127.0.0.1:PORT/v1", `server.origin` is
"http://127.0.0.1:PORT", `server.port` the port.

Standalone (for subprocess/CLI tests and benchmarks)
----------------------------------------------------
    python tests/loopback.py --script SCRIPT.json [--port 0] [--port-file FILE]
                             [--log FILE.jsonl]

prints "LOOPBACK http://127.0.0.1:PORT/v1" on stdout once listening, writes the port
number to --port-file (atomically), appends one JSON line per request to --log
({"method", "path", "headers", "json"}) and runs until SIGTERM/SIGINT. SCRIPT.json:

    {"queue":  {"chat/completions": [REPLY, ...], ...},
     "by_model": {"chat/completions": {"model-b": [REPLY, ...], ...}, ...},
     "always": {"models": REPLY, ...}}

("by_model" is `script(path, replies, model=...)`: for requests naming that model.)

where REPLY is one of
    {"json": {...}, "status": 200, "headers": {...}}
    {"text": "...", "status": 502, "content_type": "text/html"}
    {"sse_text": ["Hel", "lo"], "model": "m", "finish_reason": "stop", "usage": {...},
     "done": true, "delay": 0.05, "reasoning": ["..."]}
    {"steps": ["data: ...\\n\\n", {"delay": 0.1}, {"wait_file": "/tmp/go"},
               {"stall": 5}, {"drop": true}, {"data": {...}, "event": "error"}],
     "status": 200, "headers": {...}, "before": [{"stall": null}]}
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# ---- script steps ---------------------------------------------------------------------


@dataclass(frozen=True)
class Delay:
    seconds: float


@dataclass(frozen=True)
class Hold:
    event: threading.Event
    timeout: float = 30.0


@dataclass(frozen=True)
class WaitFile:
    path: str
    timeout: float = 30.0


@dataclass(frozen=True)
class Stall:
    seconds: float | None = None


@dataclass(frozen=True)
class Drop:
    reset: bool = False


Step = bytes | str | Delay | Hold | WaitFile | Stall | Drop


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: list[Step] = field(default_factory=list)
    chunked: bool = True
    # Steps run before the status line is sent: Stall for a server that never answers,
    # Drop for one that hangs up without answering, Delay/Hold for a slow one.
    before: list[Step] = field(default_factory=list)


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    json: Any
    # time.perf_counter() when the whole body had been read (benchmarks time arrivals).
    received: float = 0.0


# ---- reply helpers --------------------------------------------------------------------


def json_reply(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"Content-Type": "application/json", **(headers or {})},
                 [json.dumps(obj).encode()], chunked=False)


def text_reply(text: str | bytes, status: int = 200, content_type: str = "text/plain",
               headers: dict[str, str] | None = None) -> Reply:
    body = text.encode() if isinstance(text, str) else text
    return Reply(status, {"Content-Type": content_type, **(headers or {})}, [body],
                 chunked=False)


def sse_event(obj: Any, event: str | None = None) -> bytes:
    data = obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)
    head = f"event: {event}\n" if event else ""
    return (head + "".join(f"data: {line}\n" for line in data.split("\n")) + "\n").encode()


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-loopback", "object": "chat.completion.chunk", "created": 0,
            "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def sse_chunks(texts: Iterable[str], model: str = "test-model",
               finish_reason: str | None = "stop", usage: dict[str, Any] | None = None,
               done: bool = True, reasoning: Iterable[str] | None = None) -> list[bytes]:
    events = [sse_event(_chunk(model, {"role": "assistant", "reasoning_content": r}))
              for r in reasoning or []]
    events += [sse_event(_chunk(model, {"content": t})) for t in texts]
    if finish_reason is not None:
        events.append(sse_event(_chunk(model, {}, finish_reason)))
    if usage is not None:
        events.append(sse_event({"id": "chatcmpl-loopback", "object": "chat.completion.chunk",
                                 "model": model, "choices": [], "usage": usage}))
    if done:
        events.append(b"data: [DONE]\n\n")
    return events


SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}


def stream_reply(steps: Sequence[Step], status: int = 200,
                 headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {**SSE_HEADERS, **(headers or {})}, list(steps))


def sse_reply(texts: Iterable[str], *, delay: float = 0.0, hold: threading.Event | None = None,
              status: int = 200, headers: dict[str, str] | None = None,
              **kwargs: Any) -> Reply:
    steps: list[Step] = []
    for i, event in enumerate(sse_chunks(texts, **kwargs)):
        if i and delay:
            steps.append(Delay(delay))
        steps.append(event)
        if i == 0 and hold is not None:
            steps.append(Hold(hold))
    return stream_reply(steps, status, headers)


def tool_call_reply(calls: Sequence[tuple[str, str, str]], *, content: str = "",
                    model: str = "test-model", delay: float = 0.0) -> Reply:
    """A streamed reply that ends with tool calls: `calls` are (id, name, arguments JSON
    text); each call's name comes first, then its arguments in two pieces, as OpenAI
    streams them; finish_reason "tool_calls", then [DONE]."""
    events = [sse_event(_chunk(model, {"role": "assistant", "content": content or None}))]
    for index, (call_id, name, arguments) in enumerate(calls):
        head = {"index": index, "id": call_id, "type": "function",
                "function": {"name": name, "arguments": ""}}
        events.append(sse_event(_chunk(model, {"tool_calls": [head]})))
        half = len(arguments) // 2
        for piece in (arguments[:half], arguments[half:]):
            events.append(sse_event(_chunk(model, {"tool_calls": [
                {"index": index, "function": {"arguments": piece}}]})))
    events.append(sse_event(_chunk(model, {}, "tool_calls")))
    events.append(b"data: [DONE]\n\n")
    steps: list[Step] = []
    for i, event in enumerate(events):
        if i and delay:
            steps.append(Delay(delay))
        steps.append(event)
    return stream_reply(steps)


def split_bytes(data: bytes, *positions: int) -> list[bytes]:
    cuts = [0, *sorted(positions), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(cuts)]


def byte_pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


# ---- the server -----------------------------------------------------------------------


def free_port() -> int:
    """A loopback port nobody listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def blackhole() -> Iterator[str]:
    """A base URL on a loopback port whose accept queue is full, so connect() hangs until
    it times out: a connect timeout without sending anything beyond loopback."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(3):
        sock = socket.socket()
        sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            sock.connect(("127.0.0.1", port))
        fillers.append(sock)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        for sock in [*fillers, server]:
            sock.close()


class _Aborted(Exception):
    """The server is stopping or the client went away; end this response quietly."""


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None  # keep test output clean

    def setup(self) -> None:
        super().setup()
        # Small SSE writes must leave at once, not wait for Nagle.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _handle(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        received = time.perf_counter()
        parsed: Any = None
        if body:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
        split = urlsplit(self.path)
        request = Request(self.command, split.path, split.query,
                          {k.lower(): v for k, v in self.headers.items()}, body, parsed,
                          received)
        reply = owner._take(request)
        self.close_connection = True
        with contextlib.suppress(_Aborted, OSError):
            self._send(reply)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    def _send(self, reply: Reply) -> None:
        for step in reply.before:
            self._wait_step(step)
        only_bytes = all(isinstance(s, bytes | str) for s in reply.body)
        chunked = reply.chunked
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif only_bytes:
            total = sum(len(s.encode() if isinstance(s, str) else s) for s in reply.body)
            self.send_header("Content-Length", str(total))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()
        for step in reply.body:
            if isinstance(step, bytes | str):
                data = step.encode() if isinstance(step, str) else step
                if not data:
                    continue
                if chunked:
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                else:
                    self.wfile.write(data)
                self.wfile.flush()
            else:
                self._wait_step(step)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    def _wait_step(self, step: Step) -> None:
        owner = self.server.owner
        if isinstance(step, Delay | Stall):
            owner._sleep(step.seconds)
        elif isinstance(step, Hold):
            owner._wait(step.event.is_set, step.timeout)
        elif isinstance(step, WaitFile):
            owner._wait(lambda p=step.path: os.path.exists(p), step.timeout)
        elif isinstance(step, Drop):
            self._drop(step.reset)
        else:
            raise TypeError(f"not a step: {step!r}")

    def _drop(self, reset: bool) -> None:
        if reset:
            # Linger 0: close() sends RST, the way a crashed proxy looks.
            with contextlib.suppress(OSError):
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
        else:
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
        self.connection.close()
        raise _Aborted


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    owner: LoopbackServer


class LoopbackServer:
    """See the module docstring."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._requested_port = port
        self.requests: list[Request] = []
        self._queues: dict[str, deque[Reply]] = {}
        self._model_queues: dict[tuple[str, str], deque[Reply]] = {}
        self._always: dict[str, Reply] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.on_request: Any = None  # optional callable(Request), used by standalone mode

    # -- lifecycle --

    def start(self) -> LoopbackServer:
        httpd = _HTTPServer((self.host, self._requested_port), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="loopback", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes every Delay/Stall/Hold at once
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "start() first"
        return int(self._httpd.server_address[1])

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.origin}/v1"

    # -- scripting --

    @staticmethod
    def _path(path: str) -> str:
        path = urlsplit(path).path
        return path if path.startswith("/") else "/v1/" + path

    def script(self, path: str, replies: Reply | Iterable[Reply],
               model: str | None = None) -> None:
        items = [replies] if isinstance(replies, Reply) else list(replies)
        with self._lock:
            if model is not None:
                key = (self._path(path), model)
                self._model_queues.setdefault(key, deque()).extend(items)
            else:
                self._queues.setdefault(self._path(path), deque()).extend(items)

    def always(self, path: str, reply: Reply) -> None:
        with self._lock:
            self._always[self._path(path)] = reply

    def pending(self, path: str) -> int:
        """How many scripted replies for `path` are still unused."""
        with self._lock:
            return len(self._queues.get(self._path(path), ()))

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> list[Request]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} requests, got {len(self.requests)}")
            time.sleep(0.01)
        return self.requests

    # -- used by the handler --

    def _take(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            model = request.json.get("model") if isinstance(request.json, dict) else None
            queue = self._model_queues.get((request.path, model)) if isinstance(model, str) \
                else None
            if not queue:
                queue = self._queues.get(request.path)
            reply = queue.popleft() if queue else self._always.get(request.path)
        if self.on_request is not None:
            self.on_request(request)
        if reply is None:
            message = f"loopback: no reply scripted for {request.method} {request.path}"
            return json_reply({"error": {"message": message, "type": "loopback"}}, 500)
        return reply

    def _sleep(self, seconds: float | None) -> None:
        if self._stopping.wait(seconds):
            raise _Aborted

    def _wait(self, condition: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self._stopping.wait(0.01):
                raise _Aborted
            if time.monotonic() > deadline:
                raise _Aborted  # a test forgot to release the hold: give up, don't hang
        return None


# ---- standalone mode ------------------------------------------------------------------


def _step_from_json(item: Any) -> Step:
    if isinstance(item, str):
        return item
    if not isinstance(item, dict):
        raise ValueError(f"bad step: {item!r}")
    if "delay" in item:
        return Delay(float(item["delay"]))
    if "stall" in item:
        return Stall(None if item["stall"] is None else float(item["stall"]))
    if "wait_file" in item:
        return WaitFile(str(item["wait_file"]), float(item.get("timeout", 30)))
    if "drop" in item:
        return Drop(reset=item.get("reset", False))
    if "event" in item or "data" in item:
        return sse_event(item.get("data", ""), item.get("event"))
    raise ValueError(f"bad step: {item!r}")


def reply_from_json(spec: dict[str, Any]) -> Reply:
    status = int(spec.get("status", 200))
    headers = dict(spec.get("headers") or {})
    if "json" in spec:
        return json_reply(spec["json"], status, headers)
    if "text" in spec:
        return text_reply(spec["text"], status, spec.get("content_type", "text/plain"), headers)
    if "sse_text" in spec:
        return sse_reply(spec["sse_text"], delay=float(spec.get("delay", 0.0)), status=status,
                         headers=headers, model=spec.get("model", "test-model"),
                         finish_reason=spec.get("finish_reason", "stop"),
                         usage=spec.get("usage"), done=spec.get("done", True),
                         reasoning=spec.get("reasoning"))
    if "steps" in spec or "before" in spec:
        reply = stream_reply([_step_from_json(s) for s in spec.get("steps", [])], status,
                             headers)
        reply.before = [_step_from_json(s) for s in spec.get("before", [])]
        return reply
    raise ValueError(f"bad reply spec: {spec!r}")


def load_script(server: LoopbackServer, script: dict[str, Any]) -> None:
    for path, replies in (script.get("queue") or {}).items():
        server.script(path, [reply_from_json(r) for r in replies])
    for path, models in (script.get("by_model") or {}).items():
        for model, replies in models.items():
            server.script(path, [reply_from_json(r) for r in replies], model=model)
    for path, reply in (script.get("always") or {}).items():
        server.always(path, reply_from_json(reply))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Scripted HTTP server for chatterm tests.")
    parser.add_argument("--script", type=Path, help="JSON script (see module docstring)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path)
    parser.add_argument("--log", type=Path, help="append one JSON line per request")
    args = parser.parse_args(argv)

    server = LoopbackServer(port=args.port)
    if args.script:
        load_script(server, json.loads(args.script.read_text()))
    log_lock = threading.Lock()
    if args.log:
        log_path: Path = args.log

        def log(request: Request) -> None:
            line = json.dumps({"method": request.method, "path": request.path,
                               "headers": request.headers, "json": request.json})
            with log_lock, log_path.open("a") as fh:
                fh.write(line + "\n")

        server.on_request = log
    server.start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if args.port_file:
        tmp = args.port_file.with_name(args.port_file.name + ".tmp")
        tmp.write_text(str(server.port))
        tmp.replace(args.port_file)
    print(f"LOOPBACK {server.url}", flush=True)
    try:
        while not stop.wait(0.2):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
