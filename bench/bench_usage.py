"""Usage benchmark: `chatterm usage` over a store of 200,000 messages.

Run: python bench/bench_usage.py   (from the repo root; about a minute)

Builds, in a temp dir, 10,000 conversations of 20 messages (100,000 replies, each with
the provider's usage and, for every other provider, a cost) spread over 90 days and
three providers, then prints the median of several runs of the store's usage query
(per day, model, provider; all time and the last 7 days) and of the whole command
(`python -m chatterm usage`, a process of its own, as a person runs it), next to the
target of 0.15 s for the query.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chatterm.conversation import Conversation, Message, Role, Usage
from chatterm.store import Store

ROOT = Path(__file__).resolve().parent.parent

CONVERSATIONS = 10_000
PER_CONVERSATION = 20
RUNS = 7
TARGET = 0.15
MODELS = {"aimlapi": ("gpt-4o", "claude-3-5-sonnet"), "mistral": ("mistral-large",),
          "ollama": ("llama3.2", "qwen2.5")}


def build(store: Store, rng: random.Random) -> None:
    now = time.time()
    providers = list(MODELS)
    for n in range(CONVERSATIONS):
        provider = providers[n % len(providers)]
        model = rng.choice(MODELS[provider])
        start = now - rng.uniform(0, 90 * 86400)
        conv = Conversation(provider=provider, model=model, title=f"chat {n}",
                            created_at=start, updated_at=start + PER_CONVERSATION)
        for i in range(PER_CONVERSATION):
            reply = i % 2 == 1
            usage = Usage(prompt_tokens=rng.randint(50, 4000),
                          completion_tokens=rng.randint(20, 800),
                          cost=rng.uniform(0, 0.02) if provider == "aimlapi" else None
                          ) if reply else None
            conv.messages.append(Message(
                role=Role.ASSISTANT if reply else Role.USER, conversation_id=conv.id,
                content=" ".join(rng.choices(("the", "value", "error", "python", "data"),
                                             k=60 if reply else 12)),
                created_at=start + i, provider=provider if reply else None,
                model=model if reply else None, usage=usage))
        store.import_conversation(conv)
        if n % 2000 == 1999:
            print(f"  {n + 1:>6} conversations", file=sys.stderr)


def median_time(action: Callable[[], object], runs: int = RUNS) -> float:
    action()  # warm the page cache, as a second run of the command would
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, CHATTERM_DATA_DIR=tmp, CHATTERM_CACHE_DIR=tmp,
                   CHATTERM_CONFIG=str(Path(tmp) / "config.toml"))
        os.environ.update(env)  # this process's store is the one the command reads
        path = Path(tmp) / "chatterm.db"
        print(f"building {CONVERSATIONS * PER_CONVERSATION:,} messages...", file=sys.stderr)
        with Store.open(path) as store:
            build(store, random.Random(14))
        rows: list[tuple[str, float, float | None]] = []
        with Store.open(path, read_only=True) as store:
            week = time.time() - 7 * 86400
            for by in ("day", "model", "provider"):
                rows.append((f"usage --by {by}", median_time(
                    lambda by=by: store.usage(by=by)),
                             TARGET))
            rows.append(("usage --since 7d", median_time(
                lambda: store.usage(by="day", since=week)), TARGET))
            report = store.usage(by="provider")
            print(f"(totals: {report.total.replies:,} replies, "
                  f"{report.total.tokens:,} tokens)", file=sys.stderr)
        command = [sys.executable, "-m", "chatterm", "usage"]
        rows.append(("chatterm usage (the process)", median_time(
            lambda: subprocess.run(command, env=env, cwd=ROOT, check=True,
                                   capture_output=True), runs=5), None))
    width = max(len(name) for name, _, _ in rows)
    print(f"{'operation':<{width}}  {'median':>9}  {'target':>7}")
    print(f"{'-' * width}  {'-' * 9}  {'-' * 7}")
    for name, seconds, target in rows:
        verdict = "" if target is None else ("  ok" if seconds <= target else "  SLOW")
        target_text = f"{target:.2f} s" if target is not None else "-"
        print(f"{name:<{width}}  {seconds * 1000:7.1f} ms  {target_text:>7}{verdict}")


if __name__ == "__main__":
    main()
