"""Benchmark Compare models as a user sees it: four replies streaming side by side.

Run:  python bench/bench_compare.py [--runs 3] [--tokens 600] [--rate 100]

The real `python -m chatterm` in a pseudo-terminal (120x40), as in bench_tui.py, whose
terminal, loopback server and reply texts it uses. Each run launches chatterm, opens
Compare models (F9), marks three more models beside the current one (typing each id,
Space), confirms (Enter) and sends a prompt. The server streams four Markdown replies
at once, one per model, each --tokens tokens at --rate tokens/s (each token its own HTTP
chunk), every reply ending with its own marker word.

Measured per run:
  key echo   while the four stream, a few characters typed into the prompt until they
             are on screen (Ctrl+U clears the prompt between tries; 8 tries spread over
             the streaming time): the app staying responsive. Median and worst of a run.
  last word  the server's last byte of the four replies until the last of the four
             marker words is on screen
  CPU        the client's CPU seconds from Enter until the last marker is on screen, per
             1,000 tokens of the four replies together
`--single` measures the same with one reply to one model (no comparison): the baseline.
Medians over --runs. Targets: key echo <= 0.1 s (median), the lag <= 0.15 s as for one
reply (bench_tui.py).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_tui import MODEL, READING, Bench, Terminal, markdown_reply
from loopback import Delay, json_reply, sse_chunks, stream_reply

F9, SPACE, CTRL_U = "\x1b[20~", " ", "\x15"
OTHERS = ("model-bb", "model-cc", "model-dd")
TRIES = 8


def reply_steps(model: str, tokens: int, rate: float) -> list[Any]:
    pieces = [*markdown_reply(tokens - 1), f" end-of-{model}"]
    events = sse_chunks(pieces, model=model,
                        usage={"prompt_tokens": 10, "completion_tokens": len(pieces)})
    steps: list[Any] = []
    for index, event in enumerate(events):
        if index:
            steps.append(Delay(1 / rate))
        steps.append(event)
    return steps


def open_compare(terminal: Terminal) -> None:
    """F9, mark the three other models, Enter: compare mode on the status bar."""
    time.sleep(READING)
    terminal.watch("Compare models: mark")
    terminal.type(F9)
    terminal.wait("Compare models: mark")
    time.sleep(0.3)  # the live list arrives
    for count, model in enumerate(OTHERS, start=2):
        terminal.watch("Other (1)")
        terminal.type(model)
        terminal.wait("Other (1)")  # the list filtered down to it
        time.sleep(0.1)
        terminal.watch(f"{count} marked")
        terminal.type(SPACE)
        terminal.wait(f"{count} marked")
    terminal.watch("compare 4 models")
    terminal.type("\r")
    terminal.wait("compare 4 models")


def key_echo(terminal: Terminal, marker: str) -> float:
    terminal.type(CTRL_U)
    time.sleep(0.05)
    terminal.watch(marker)
    typed = time.monotonic()
    terminal.type(marker)
    return terminal.wait(marker, timeout=10) - typed


def one_run(bench: Bench, tokens: int, rate: float,
            single: bool = False) -> tuple[list[float], float, float]:
    models = (MODEL,) if single else (MODEL, *OTHERS)
    for model in models:
        bench.server.script("chat/completions", stream_reply(reply_steps(model, tokens, rate)),
                            model=model)
    terminal, _ = bench.launch()
    try:
        if not single:
            open_compare(terminal)
        markers = [f"end-of-{model}" for model in models]
        terminal.watch(*markers)
        before = len(bench.sent_at)
        cpu_at_enter: list[float] = []
        bench.send(terminal, "the same question to four models", read=False,
                   on_enter=lambda: cpu_at_enter.append(terminal.cpu_seconds()))
        streaming = tokens / rate
        echoes: list[float] = []
        time.sleep(0.5)  # the four are under way
        for index in range(TRIES):
            echoes.append(key_echo(terminal, f"zq{index}x"))
            time.sleep(max(0.0, (streaming - 1.5) / TRIES - echoes[-1]))
        visible = terminal.wait(*markers, timeout=streaming + 30)
        cpu = terminal.cpu_seconds() - cpu_at_enter[0]
        deadline = time.monotonic() + 5
        while len(bench.sent_at) < before + len(models) and time.monotonic() < deadline:
            time.sleep(0.01)
        return echoes, visible - bench.sent_at[-1], cpu / (len(models) * tokens / 1000)
    finally:
        terminal.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=600)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--single", action="store_true",
                        help="the baseline: one reply to one model, no comparison")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp))
        bench.server.always("models", json_reply({"object": "list", "data": [
            {"id": model, "object": "model"} for model in (MODEL, *OTHERS)]}))
        try:
            bench.launch()[0].close()  # warm-up: bytecode, caches
            medians: list[float] = []
            worsts: list[float] = []
            lags: list[float] = []
            cpus: list[float] = []
            for run in range(args.runs):
                echoes, lag, cpu = one_run(bench, args.tokens, args.rate, args.single)
                medians.append(statistics.median(echoes))
                worsts.append(max(echoes))
                lags.append(lag)
                cpus.append(cpu)
                print(f"run {run + 1}: key echo median {medians[-1]:.3f} s, worst "
                      f"{worsts[-1]:.3f} s; last word {lag:.3f} s after the last byte; "
                      f"CPU {cpu:.3f} s per 1,000 tokens", flush=True)
        finally:
            bench.close()
    count = 1 if args.single else 4
    replies = "1 reply" if count == 1 else f"{count} replies"
    print(f"\n{replies} x {args.tokens} tokens at {args.rate:g} tok/s each, "
          f"medians of {args.runs} runs:")
    print(f"  key echo while streaming   {statistics.median(medians):.3f} s "
          f"(worst seen {max(worsts):.3f} s)   target <= 0.1 s")
    print(f"  last byte -> last word     {statistics.median(lags):.3f} s   target <= 0.15 s")
    print(f"  CPU per 1,000 tokens       {statistics.median(cpus):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
