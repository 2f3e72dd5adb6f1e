"""Import benchmark: `chatterm import` of a 1,000-conversation ChatGPT export.

Run: python bench/bench_import.py [--runs 5] [--conversations 1000]   (from the repo root)

Generates, in a temp dir, a ChatGPT `conversations.json` shaped like the real export (a
`mapping` tree per conversation: the empty root, a hidden system node, prompts and replies
with `model_slug`, every fifth conversation with a regenerated reply and an edited prompt,
some replies holding a code-interpreter call and its output), then times whole
`chatterm import FILE` processes into a fresh data dir each run, and a second import of
the same file into the filled store (everything already imported). Prints the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

_SENTENCE = ("the function returns a list of values when the database query fails with an "
             "error so handle it before you retry with a smaller batch size über naïve café "
             "日本語 テスト")
WORDS = _SENTENCE.split(" ")


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def _node(key: str, parent: str | None, role: str | None, text: str, at: float,
          **extra: Any) -> dict[str, Any]:
    message = None
    if role is not None:
        message = {"id": key, "author": {"role": role, "name": None, "metadata": {}},
                   "create_time": at, "update_time": None,
                   "content": extra.pop("content", {"content_type": "text", "parts": [text]}),
                   "status": "finished_successfully", "end_turn": role == "assistant",
                   "weight": 1.0, "metadata": extra.pop("metadata", {}),
                   "recipient": extra.pop("recipient", "all")}
    return {"id": key, "message": message, "parent": parent, "children": []}


def conversation(rng: random.Random, number: int) -> dict[str, Any]:
    start = 1_700_000_000.0 + number * 3600
    mapping: dict[str, dict[str, Any]] = {}

    def add(node: dict[str, Any]) -> str:
        mapping[node["id"]] = node
        if node["parent"] is not None:
            mapping[node["parent"]]["children"].append(node["id"])
        return str(node["id"])

    at = start
    last = add(_node(f"{number}-root", None, None, "", at))
    last = add(_node(f"{number}-sys", last, "system", "", at,
                     metadata={"is_visually_hidden_from_conversation": True}))
    turns = rng.randint(3, 12)
    for turn in range(turns):
        at += 30
        prompt = add(_node(f"{number}-u{turn}", last, "user", _text(rng, 30), at))
        if turn % 4 == 3:  # a code-interpreter call, its output, then the answer
            code = add(_node(f"{number}-c{turn}", prompt, "assistant", "", at + 5,
                             content={"content_type": "code", "language": "unknown",
                                      "text": "print(sum(range(10)))"},
                             recipient="python", metadata={"model_slug": "gpt-4o"}))
            out = add(_node(f"{number}-o{turn}", code, "tool", "", at + 6,
                            content={"content_type": "execution_output", "text": "45"}))
            last = add(_node(f"{number}-a{turn}", out, "assistant", _text(rng, 120), at + 9,
                             metadata={"model_slug": "gpt-4o",
                                       "finish_details": {"type": "stop"}}))
        else:
            last = add(_node(f"{number}-a{turn}", prompt, "assistant", _text(rng, 120),
                             at + 9, metadata={"model_slug": "gpt-4o-mini",
                                               "finish_details": {"type": "stop"}}))
        if number % 5 == 0 and turn == 1:  # a regenerated reply and an edited prompt
            add(_node(f"{number}-a{turn}b", prompt, "assistant", _text(rng, 80), at + 20,
                      metadata={"model_slug": "gpt-4o"}))
            edited = add(_node(f"{number}-u{turn}b", mapping[prompt]["parent"], "user",
                               _text(rng, 25), at + 25))
            add(_node(f"{number}-a{turn}c", edited, "assistant", _text(rng, 60), at + 28,
                      metadata={"model_slug": "gpt-4o"}))
    return {"title": f"Conversation {number}", "create_time": start, "update_time": at + 9,
            "current_node": last, "conversation_id": f"conv-{number:05d}",
            "id": f"conv-{number:05d}", "default_model_slug": "gpt-4o", "mapping": mapping}


def timed(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "chatterm", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"chatterm {' '.join(args)} failed: {done.stderr.strip()}")
    return took, done.stderr.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--conversations", type=int, default=1000)
    args = parser.parse_args()
    rng = random.Random(12)
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        root = Path(tmp)
        export = root / "conversations.json"
        export.write_text(json.dumps([conversation(rng, n)
                                      for n in range(args.conversations)]), encoding="utf-8")
        size = export.stat().st_size
        firsts, agains = [], []
        summary = ""
        for run in range(args.runs):
            home = root / f"run{run}"
            env = {**os.environ, "CHATTERM_CONFIG": str(home / "config.toml"),
                   "CHATTERM_DATA_DIR": str(home / "data"),
                   "CHATTERM_CACHE_DIR": str(home / "cache"),
                   "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
            took, summary = timed(["import", str(export)], env)
            firsts.append(took)
            took, _ = timed(["import", str(export)], env)
            agains.append(took)
        print(f"ChatGPT export: {args.conversations} conversations, {size / 1e6:.1f} MB "
              f"({summary})")
        print(f"chatterm import, into an empty store: median {statistics.median(firsts):.2f} s"
              f" (runs: {', '.join(f'{t:.2f}' for t in firsts)})")
        print(f"chatterm import again (all already imported): median "
              f"{statistics.median(agains):.2f} s "
              f"(runs: {', '.join(f'{t:.2f}' for t in agains)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
