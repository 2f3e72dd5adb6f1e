"""Benchmark the TUI as a user sees it: the real `python -m chatterm` in a pseudo-terminal.

Run:  python bench/bench_tui.py [--runs 5] [--quick]

Every figure comes from a fresh `chatterm` process under `pty.fork()` (120x40, TERM=
xterm-256color), talking to the loopback HTTP server from tests/loopback.py run in this
process. A reader thread drains the terminal output, strips escape sequences, and notes
the moment each awaited text first appears on screen; that is "visible". The child gets
compiled bytecode (compileall, as pip does on install) and a warm-up launch.

"Token" = one streamed content delta of 4 characters (a typical LLM word piece). The
replies are Markdown with headings, paragraphs, lists and Python code fences, and end
with a marker word.

Scenarios (medians over --runs; the 100 tok/s one runs fewer times, it takes 20 s):
  launch          process start until the prompt and the status line are drawn; next to
                  it, interleaved run by run, the same for a bare Textual app (a Static
                  and a TextArea): the floor that Python and Textual alone set
  first token     Enter until the first streamed token is on screen
  2,000 at once   Enter until the last word of a 2,000-token reply sent in one write
  100 tok/s lag   last byte sent by the server until the last word is on screen
  CPU / 1k tok    the client's CPU seconds (utime+stime) from Enter until the last word
                  is on screen, per 1,000 tokens, at 100 tok/s (each token its own HTTP
                  chunk) and for the 2,000-token reply sent at once. Typing the prompt is
                  not counted: it costs the same whatever the reply.
  RSS             peak resident memory (VmHWM) after the 8,000-token reply
  8k / 2k ratio   time for 8,000 tokens at once / time for 2,000 (linear cost => ~4)
  2,000 messages  a 2,000-message chat chosen in the sidebar (Ctrl+B, Enter) until its
                  last message is on screen; also `chatterm --resume ID` from process start
                  until the prompt and the last message are drawn (no target in the issue;
                  shown against launch + 0.5 s)

A/B:  python bench/bench_tui.py --against DIR [--rate 100] [--runs 5]
runs only the paced scenario, alternating run by run between this checkout and the one
in DIR (e.g. `git archive main | tar -x -C DIR`), so both meet the same moments of a
noisy host, and prints each one's medians.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import fcntl
import json
import os
import pty
import re
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import loopback  # noqa: E402
from loopback import Delay, LoopbackServer, stream_reply  # noqa: E402

COLUMNS, LINES = 120, 40
MODEL = "bench-model"
LAST_WORD = "ZZLASTWORD"
FIRST_TOKEN = "FIRSTTOKN"
READING = 1.0
READY_MARKERS = ("Ask anything", f"loop · {MODEL}")
BARE_READY = "BARE-APP-READY"
# The floor under chatterm's launch: Textual itself, with the two kinds of widget the
# first frame needs (a line of text and a TextArea), started the same way.
BARE_APP = f"""
from textual.app import App
from textual.widgets import Static, TextArea

class Bare(App):
    def compose(self):
        yield Static("{BARE_READY}")
        yield TextArea()

Bare().run()
"""

# A target of None: shown for comparison only.
TARGETS: dict[str, tuple[str, float | None]] = {
    "launch": ("s", 0.35),
    "launch of a bare Textual app": ("s", None),
    "first token": ("s", 0.10),
    "2,000 tokens at once": ("s", 1.0),
    "100 tok/s lag after last byte": ("s", 0.15),
    "CPU per 1,000 tokens": ("s", 0.5),
    "CPU per 1,000 tokens, sent at once": ("s", 0.5),
    "RSS": ("MB", 120.0),
    "8,000 / 2,000 tokens time": ("x", 4.5),
    "2,000-message chat usable": ("s", 0.5),
    "2,000-message chat, --resume launch": ("s", 0.85),
}

_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC
    r"|\x1b[PX^_][^\x1b]*\x1b\\"  # DCS/SOS/PM/APC
    r"|\x1b[@-Z\\-_]"  # two-byte escapes
    r"|\x1b[()][0-9A-Za-z]"
)


# ---- the reply texts ----------------------------------------------------------------------


def markdown_reply(tokens: int) -> list[str]:
    """A Markdown reply cut into `tokens` 4-character pieces, ending with LAST_WORD."""
    words = ["stream", "render", "token", "buffer", "widget", "layout", "terminal", "python",
             "latency", "markdown", "parser", "block", "fence", "adaptive", "flush"]
    parts: list[str] = []
    section = 0
    while sum(len(p) for p in parts) < tokens * 4:
        section += 1
        parts.append(f"## Section {section}\n\n")
        parts.append(" ".join(words[(section + i) % len(words)] for i in range(45)) + ".\n\n")
        for item in range(6):
            parts.append(f"- item **{item}** about {words[(section + item) % len(words)]}\n")
        parts.append("\n```python\n")
        for line in range(10):
            parts.append(f"def f{section}_{line}(x: int) -> int:\n    return x * {line}\n")
        parts.append("```\n\n")
    text = "".join(parts)[: tokens * 4 - len(LAST_WORD) - 3]
    text = text.rsplit("\n", 1)[0]
    if text.count("```") % 2:
        text += "\n```"  # close a fence the cut left open
    text += f"\n\nThe end {LAST_WORD}"
    pieces = [text[i: i + 4] for i in range(0, len(text), 4)]
    return pieces


def sse_bytes(pieces: list[str]) -> list[bytes]:
    return loopback.sse_chunks(pieces, model=MODEL,
                               usage={"prompt_tokens": 10, "completion_tokens": len(pieces)})


# ---- the terminal ------------------------------------------------------------------------


class Terminal:
    """`python -m chatterm ARGS` (or `python SCRIPT`) in a pty; records when texts first
    appear on screen."""

    def __init__(self, env: dict[str, str], *args: str, script: Path | None = None) -> None:
        self.started = time.monotonic()
        command = [str(script)] if script is not None else ["-m", "chatterm", *args]
        pid, fd = pty.fork()
        if pid == 0:  # child
            try:
                os.execve(sys.executable, [sys.executable, *command], env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
        self._lock = threading.Lock()
        # The recent screen output, escape sequences removed. Only a window is kept:
        # growing one string per read would copy megabytes per frame in this process and
        # steal CPU from the app being measured.
        self._recent = ""
        self._total = 0  # characters seen so far; watch offsets count from here
        self._carry = ""  # an escape sequence cut by a read
        self._watch: dict[str, float | None] = {}
        self._offsets: dict[str, int] = {}
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        while True:
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                break
            if not data:
                break
            now = time.monotonic()
            chunk = self._carry + decoder.decode(data)
            cut = chunk.rfind("\x1b")
            if cut != -1 and len(chunk) - cut < 64 and not _ESCAPES.match(chunk, cut):
                chunk, self._carry = chunk[:cut], chunk[cut:]
            else:
                self._carry = ""
            clean = _ESCAPES.sub("", chunk)
            with self._lock:
                start = self._total
                window_start = start - len(self._recent)
                self._recent += clean
                self._total += len(clean)
                for marker, seen in self._watch.items():
                    if seen is None:
                        begin = max(self._offsets[marker], start - len(marker)) - window_start
                        if self._recent.find(marker, max(0, begin)) != -1:
                            self._watch[marker] = now
                if len(self._recent) > 131_072:
                    self._recent = self._recent[-65_536:]
        self._closed.set()

    def watch(self, *markers: str) -> None:
        """Start looking for `markers` in output from now on."""
        with self._lock:
            for marker in markers:
                self._watch[marker] = None
                self._offsets[marker] = self._total

    def wait(self, *markers: str, timeout: float = 30.0) -> float:
        """The monotonic time by which all `markers` (watched before) were on screen."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                seen = [self._watch.get(m) for m in markers]
            if all(t is not None for t in seen):
                return max(t for t in seen if t is not None)
            if time.monotonic() > deadline or self._closed.is_set():
                raise TimeoutError(f"not on screen: {markers!r}; tail: {self.tail()!r}")
            time.sleep(0.002)

    def tail(self, size: int = 400) -> str:
        with self._lock:
            return self._recent[-size:]

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        os.close(self.fd)
        self._thread.join(timeout=5)


# ---- the bench -----------------------------------------------------------------------------


class Bench:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.server = LoopbackServer()
        self.server.start()
        self.sent_at: list[float] = []
        original = loopback._Handler._send
        sent_at = self.sent_at

        def send_and_note(handler: Any, reply: Any) -> None:
            original(handler, reply)
            sent_at.append(time.monotonic())  # the last byte of the body has been written

        loopback._Handler._send = send_and_note  # type: ignore[method-assign]
        config = home / "config" / "config.toml"
        config.parent.mkdir(parents=True)
        config.write_text(
            'default_provider = "loop"\n'
            "[providers.loop]\n"
            f'base_url = "{self.server.url}"\n'
            'api_key_env = "LOOP_API_KEY"\n'
            f'default_model = "{MODEL}"\n'
        )
        config.chmod(0o600)
        # Bytecode as an installed package has it (pip compiles on install); the venv's
        # packages already have theirs.
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "chatterm")],
                       check=True, stdout=subprocess.DEVNULL)
        env = dict(os.environ)
        env.update({
            "CHATTERM_CONFIG": str(config),
            "CHATTERM_DATA_DIR": str(home / "data"),
            "CHATTERM_CACHE_DIR": str(home / "cache"),
            "LOOP_API_KEY": "sk-bench-0123456789abcdef",
            "PYTHONPATH": str(REPO),
            "TERM": "xterm-256color",
            "COLUMNS": str(COLUMNS),
            "LINES": str(LINES),
        })
        self.env = env

    def close(self) -> None:
        self.server.stop()

    def use(self, repo: Path) -> None:
        """Run the chatterm of the checkout in `repo` from now on."""
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(repo / "chatterm")],
                       check=True, stdout=subprocess.DEVNULL)
        self.env["PYTHONPATH"] = str(repo)

    def forget_screen(self) -> None:
        """Start the next launch with the sidebar closed, as on a first run: chatterm
        reopens the screen as it was left, and one scenario opens the sidebar."""
        (self.home / "data" / "screen-state.json").unlink(missing_ok=True)

    def launch(self, *args: str) -> tuple[Terminal, float]:
        self.forget_screen()
        terminal = Terminal(self.env, *args)
        terminal.watch(*READY_MARKERS)
        ready = terminal.wait(*READY_MARKERS)
        return terminal, ready - terminal.started

    def send(self, terminal: Terminal, prompt: str, *, read: bool = True,
             on_enter: Callable[[], None] | None = None) -> float:
        """Type `prompt`, wait for its echo, press Enter; returns when Enter was sent.

        A person reads the screen for a moment before typing; the app uses that time to
        load what the first reply needs, so the bench waits READING seconds first.
        """
        if read:
            time.sleep(READING)
        terminal.watch(prompt)
        terminal.type(prompt)
        terminal.wait(prompt)
        time.sleep(0.05)  # let the echo frame settle, as a person would
        if on_enter is not None:
            on_enter()
        pressed = time.monotonic()
        terminal.type("\r")
        return pressed

    # -- scenarios ---------------------------------------------------------------------------

    def t_launch(self) -> float:
        terminal, elapsed = self.launch()
        terminal.close()
        return elapsed

    def t_bare_textual_launch(self) -> float:
        script = self.home / "bare_app.py"
        if not script.exists():
            script.write_text(BARE_APP)
        terminal = Terminal(self.env, script=script)
        try:
            terminal.watch(BARE_READY)
            return terminal.wait(BARE_READY) - terminal.started
        finally:
            terminal.close()

    def t_first_token(self) -> float:
        pieces = [FIRST_TOKEN + " ", *markdown_reply(50)]
        events = sse_bytes(pieces)
        self.server.script("chat/completions",
                           stream_reply([events[0], Delay(0.5), b"".join(events[1:])]))
        terminal, _ = self.launch()
        try:
            terminal.watch(FIRST_TOKEN)
            pressed = self.send(terminal, "first token please")
            return terminal.wait(FIRST_TOKEN) - pressed
        finally:
            terminal.close()

    def t_all_at_once(self, tokens: int) -> tuple[float, float, float]:
        """(seconds from Enter to the last word, peak RSS MB, CPU s per 1,000 tokens)."""
        body = b"".join(sse_bytes(markdown_reply(tokens)))
        self.server.script("chat/completions", stream_reply([body]))
        terminal, _ = self.launch()
        try:
            terminal.watch(LAST_WORD)
            time.sleep(READING)
            cpu_at_enter: list[float] = []
            pressed = self.send(terminal, f"reply with {tokens} tokens", read=False,
                                on_enter=lambda: cpu_at_enter.append(terminal.cpu_seconds()))
            visible = terminal.wait(LAST_WORD, timeout=60)
            cpu = terminal.cpu_seconds() - cpu_at_enter[0]
            time.sleep(0.3)
            return visible - pressed, terminal.peak_rss_mb(), cpu / (tokens / 1000)
        finally:
            terminal.close()

    def t_paced(self, tokens: int, rate: float) -> tuple[float, float]:
        """(lag from the server's last byte to the last word, CPU s per 1,000 tokens)."""
        events = sse_bytes(markdown_reply(tokens))
        steps: list[Any] = []
        for index, event in enumerate(events):
            if index:
                steps.append(Delay(1 / rate))
            steps.append(event)
        self.server.script("chat/completions", stream_reply(steps))
        terminal, _ = self.launch()
        try:
            terminal.watch(LAST_WORD)
            before = len(self.sent_at)
            cpu_at_enter: list[float] = []
            self.send(terminal, f"stream {tokens} tokens slowly",
                      on_enter=lambda: cpu_at_enter.append(terminal.cpu_seconds()))
            visible = terminal.wait(LAST_WORD, timeout=tokens / rate + 30)
            cpu = terminal.cpu_seconds() - cpu_at_enter[0]
            deadline = time.monotonic() + 5
            while len(self.sent_at) == before and time.monotonic() < deadline:
                time.sleep(0.01)
            return visible - self.sent_at[-1], cpu / (tokens / 1000)
        finally:
            terminal.close()

    def seed_long_chat(self, count: int) -> str:
        from chatterm.conversation import Conversation, Message, Role
        from chatterm.store import Store

        conversation = Conversation(provider="loop", model=MODEL, title="long chat")
        for index in range(count):
            if index % 2 == 0:
                content = f"Question {index}: how does the {index}th part of the system work?"
                conversation.messages.append(Message(role=Role.USER, content=content))
            else:
                content = (f"Answer {index}. It works like this:\n\n- first **step**\n"
                           f"- second step with `code`\n\n```python\nprint({index})\n```\n\n"
                           f"That covers it. MSG{index}END")
                conversation.messages.append(Message(role=Role.ASSISTANT, content=content,
                                                     model=MODEL, provider="loop"))
        with Store.open(self.home / "data" / "chatterm.db") as store:
            store.create_conversation(conversation)
        return conversation.id

    def t_open_from_sidebar(self, title: str, last_marker: str) -> float:
        """Ctrl+B, Enter on the newest saved chat: seconds until its last message shows."""
        terminal, _ = self.launch()
        try:
            time.sleep(READING)
            terminal.watch(title)
            terminal.type("\x02")  # Ctrl+B
            terminal.wait(title)
            time.sleep(0.2)  # the list has focus and its first row highlighted
            terminal.watch(last_marker)
            pressed = time.monotonic()
            terminal.type("\r")
            return terminal.wait(last_marker) - pressed
        finally:
            terminal.close()

    def t_long_chat(self, conversation_id: str, last_marker: str) -> float:
        self.forget_screen()
        terminal = Terminal(self.env, "--resume", conversation_id)
        try:
            terminal.watch(*READY_MARKERS, last_marker)
            return terminal.wait(*READY_MARKERS, last_marker) - terminal.started
        finally:
            terminal.close()


def median(run: Callable[[], float], runs: int) -> float:
    return statistics.median(run() for _ in range(runs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="fewer runs, skip 100 tok/s")
    parser.add_argument("--against", type=Path, metavar="DIR",
                        help="A/B: only the paced scenario, alternating with the checkout in DIR")
    parser.add_argument("--rate", type=float, default=100.0,
                        help="tokens per second of the paced scenario in an A/B (default 100)")
    args = parser.parse_args(argv)
    if args.against is not None:
        return compare(args.against.resolve(), args.runs, args.rate)
    runs = 2 if args.quick else args.runs
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="chatterm-bench-") as tmp:
        bench = Bench(Path(tmp))
        try:
            # Warm-up: compile bytecode into the private cache, create the database.
            bench.t_launch()
            bench.t_bare_textual_launch()
            # Interleaved, so both meet the same moments of a noisy host.
            launches: list[float] = []
            bare: list[float] = []
            for _ in range(max(runs, 5)):
                launches.append(bench.t_launch())
                bare.append(bench.t_bare_textual_launch())
            results["launch"] = statistics.median(launches)
            results["launch of a bare Textual app"] = statistics.median(bare)
            results["first token"] = median(bench.t_first_token, runs)
            two = [bench.t_all_at_once(2000) for _ in range(runs)]
            eight = [bench.t_all_at_once(8000) for _ in range(runs)]
            t2 = statistics.median(t for t, _, _ in two)
            t8 = statistics.median(t for t, _, _ in eight)
            results["2,000 tokens at once"] = t2
            results["8,000 / 2,000 tokens time"] = t8 / t2
            results["RSS"] = max(rss for _, rss, _ in eight)
            results["CPU per 1,000 tokens, sent at once"] = statistics.median(
                cpu for _, _, cpu in two)
            if not args.quick:
                paced = [bench.t_paced(2000, 100.0) for _ in range(max(1, min(runs, 3)))]
                results["100 tok/s lag after last byte"] = statistics.median(
                    lag for lag, _ in paced)
                results["CPU per 1,000 tokens"] = statistics.median(cpu for _, cpu in paced)
            long_id = bench.seed_long_chat(2000)
            results["2,000-message chat usable"] = median(
                lambda: bench.t_open_from_sidebar("long chat", "MSG1999END"), runs)
            results["2,000-message chat, --resume launch"] = median(
                lambda: bench.t_long_chat(long_id, "MSG1999END"), runs)
        finally:
            bench.close()
    print_table(results, runs)
    print(json.dumps({k: round(v, 4) for k, v in results.items()}))
    return 0


def compare(other: Path, runs: int, rate: float, tokens: int = 2000) -> int:
    """The paced scenario, this checkout and `other` alternately (the order flips each
    run); medians of CPU per 1,000 tokens and of the lag after the last byte."""
    if not (other / "chatterm").is_dir():
        print(f"bench_tui: {other} holds no chatterm package", file=sys.stderr)
        return 2
    checkouts = {"this": REPO, "other": other}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in checkouts}
    with tempfile.TemporaryDirectory(prefix="chatterm-bench-") as tmp:
        bench = Bench(Path(tmp))
        try:
            for repo in checkouts.values():  # compile both, warm the disk cache
                bench.use(repo)
                bench.t_launch()
            for run in range(runs):
                order = list(checkouts) if run % 2 == 0 else list(reversed(checkouts))
                for name in order:
                    bench.use(checkouts[name])
                    lag, cpu = bench.t_paced(tokens, rate)
                    results[name].append((lag, cpu))
                    print(f"run {run + 1} {name:5} CPU/1k {cpu:.3f} s  lag {lag:.3f} s",
                          flush=True)
        finally:
            bench.close()
    print(f"\n{tokens} tokens at {rate:g} tok/s, medians of {runs} interleaved runs")
    for name, repo in checkouts.items():
        cpu = statistics.median(c for _, c in results[name])
        lag = statistics.median(lag for lag, _ in results[name])
        print(f"{name:5} {repo!s:40} CPU per 1,000 tokens {cpu:.3f} s   lag {lag:.3f} s")
    return 0


def print_table(results: dict[str, float], runs: int) -> None:
    print(f"\nchatterm TUI in a pty ({COLUMNS}x{LINES}), medians of {runs}+ runs")
    print(f"{'measure':34} {'result':>10} {'target':>10}  ok")
    for name, (unit, target) in TARGETS.items():
        if target is None:
            shown = f"{results[name]:.3f} {unit}" if name in results else "skipped"
            print(f"{name:34} {shown:>10} {'(floor)':>10}")
            continue
        if name not in results:
            print(f"{name:34} {'skipped':>10} {f'≤ {target:g} {unit}':>10}")
            continue
        value = results[name]
        shown = f"{value:.3f} {unit}" if unit != "MB" else f"{value:.0f} {unit}"
        print(f"{name:34} {shown:>10} {f'≤ {target:g} {unit}':>10}  "
              f"{'yes' if value <= target else 'NO'}")


if __name__ == "__main__":
    raise SystemExit(main())
