"""CLI benchmarks, measured as a user runs them: whole `chatterm` processes.

    python bench/bench_cli.py [--runs N]

Prints medians (and min/max) of N runs for:
  - `chatterm --help`                       target <= 0.15 s
  - `chatterm ask` overhead over a raw httpx streaming request on loopback   <= 50 ms
  - `chatterm list` with 10,000 conversations                                 <= 0.15 s
  - `chatterm search` over 200,000 messages                                   <= 0.15 s
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from loopback import LoopbackServer, sse_reply  # noqa: E402

from chatterm.conversation import Conversation, Message, Role  # noqa: E402
from chatterm.store import Store  # noqa: E402

WORDS = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
    "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
    "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu", "python",
    "rust", "sqlite", "terminal", "stream", "token", "model", "reply", "search", "index",
]

# The baseline is the least an async streaming client must do: the same request with
# httpx.AsyncClient under asyncio, bytes copied to stdout, no parsing.
RAW_HTTPX = """
import asyncio, httpx, sys
async def main():
    async with httpx.AsyncClient() as client:
        async with client.stream("POST", sys.argv[1] + "/chat/completions",
                                 json={"model": "m", "stream": True,
                                       "messages": [{"role": "user", "content": "hi"}]}) as r:
            async for chunk in r.aiter_bytes():
                sys.stdout.buffer.write(chunk)
asyncio.run(main())
"""


def timed(cmd: list[str], env: dict[str, str], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run(cmd, env=env, capture_output=True)
        samples.append(time.perf_counter() - start)
        if result.returncode != 0:
            raise SystemExit(f"{cmd} failed: {result.stderr.decode()[-500:]}")
    return samples


def populate(data_dir: Path, conversations: int, messages_each: int, seed: int) -> None:
    rng = random.Random(seed)
    os.environ["CHATTERM_DATA_DIR"] = str(data_dir)
    with Store.open() as store:
        base = time.time() - conversations * 60
        for index in range(conversations):
            conv = Conversation(provider="aimlapi", model="gpt-4o",
                                title=" ".join(rng.choices(WORDS, k=4)),
                                created_at=base + index * 60, updated_at=base + index * 60)
            for position in range(messages_each):
                role = Role.USER if position % 2 == 0 else Role.ASSISTANT
                conv.messages.append(Message(
                    role=role, conversation_id=conv.id,
                    content=" ".join(rng.choices(WORDS, k=rng.randint(20, 60))),
                    created_at=base + index * 60 + position,
                    provider="aimlapi" if role is Role.ASSISTANT else None,
                    model="gpt-4o" if role is Role.ASSISTANT else None))
            store.import_conversation(conv)


def row(name: str, samples: list[float], target: float) -> str:
    median = statistics.median(samples)
    verdict = "ok" if median <= target else "MISSED"
    return (f"| {name:<44} | {median * 1000:8.1f} | {min(samples) * 1000:8.1f} | "
            f"{max(samples) * 1000:8.1f} | {target * 1000:6.0f} | {verdict:<6} |")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    runs = args.runs
    work = Path(tempfile.mkdtemp(prefix="chatterm-bench-"))
    env = dict(os.environ, PYTHONPATH=str(REPO),
               CHATTERM_CONFIG=str(work / "config.toml"),
               CHATTERM_DATA_DIR=str(work / "data"), CHATTERM_CACHE_DIR=str(work / "cache"))
    chatterm = [sys.executable, "-m", "chatterm"]
    lines = []

    lines.append(row("chatterm --help", timed([*chatterm, "--help"], env, runs), 0.15))

    with LoopbackServer() as server:
        (work / "config.toml").write_text(
            'default_provider = "local"\ndefault_model = "m"\n'
            f'[providers.local]\nbase_url = "{server.url}"\n')
        server.always("chat/completions", sse_reply(["token "] * 50))
        raw = timed([sys.executable, "-c", RAW_HTTPX, server.url], env, runs)
        ask = timed([*chatterm, "ask", "--no-save", "hi"], env, runs)
        ask_saved = timed([*chatterm, "ask", "hi"], env, runs)
    overhead = [a - r for a, r in zip(sorted(ask), sorted(raw), strict=True)]
    saved_overhead = [a - r for a, r in zip(sorted(ask_saved), sorted(raw), strict=True)]
    lines.append(row("raw httpx.AsyncClient stream (process)", raw, float("inf")))
    lines.append(row("chatterm ask --no-save (process)", ask, float("inf")))
    lines.append(row("ask overhead over raw httpx (--no-save)", overhead, 0.05))
    lines.append(row("ask overhead over raw httpx (saved)", saved_overhead, 0.05))

    list_dir = work / "list-data"
    populate(list_dir, 10_000, 2, seed=1)
    list_env = dict(env, CHATTERM_DATA_DIR=str(list_dir))
    lines.append(row("chatterm list (10,000 conversations)",
                     timed([*chatterm, "list"], list_env, runs), 0.15))

    search_dir = work / "search-data"
    populate(search_dir, 2_000, 100, seed=2)
    search_env = dict(env, CHATTERM_DATA_DIR=str(search_dir))
    lines.append(row("chatterm search (200,000 messages, 1 term)",
                     timed([*chatterm, "search", "foxtrot"], search_env, runs), 0.15))
    lines.append(row("chatterm search (200,000 messages, 2 terms)",
                     timed([*chatterm, "search", "sqlite", "terminal"], search_env, runs), 0.15))

    print(f"chatterm CLI benchmark, {runs} runs each, milliseconds")
    print(f"| {'measurement':<44} |   median |      min |      max | target | result |")
    print(f"|{'-' * 46}|----------|----------|----------|--------|--------|")
    for line in lines:
        print(line.replace("|    inf |", "|      - |"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
