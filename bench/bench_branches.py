"""Benchmark opening a conversation tree in the app, beside a straight chat of the same size.

Run:  python bench/bench_branches.py [--runs 5]

The real `python -m chatterm` in a pseudo-terminal (120x40), as bench/bench_tui.py runs
it (its Terminal and Bench are used). Two saved chats of 2,000 messages each:

  straight   2,000 messages in one line (bench_tui's "long chat")
  branched   2,000 messages: a current branch of 1,800, and 200 other versions of
             earlier replies, so 201 branches (one every ~4 replies)

Scenarios (medians; the two chats alternate run by run, so both meet the same moments
of a noisy host):
  opened from the sidebar   Ctrl+B, then Enter on the chat's row, until the last message
                            of its current branch is on screen (target <= 0.5 s, as for a
                            straight chat)
  tree view                 with the branched chat open, Ctrl+T until the tree view's
                            summary line (2,000 messages · 201 branches) is on screen
  model picker              for comparison, the same chat open, Ctrl+O until the model
                            picker's filter box is on screen (another screen pushed over
                            the same chat)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_tui import MODEL, READING, Bench

MESSAGES = 2000
OTHER_VERSIONS = 200
DOWN = "\x1b[B"
TARGET = 0.5
PICKER = "Filter models, or type any model id"


def seed_branched_chat(bench: Bench, messages: int = MESSAGES,
                       others: int = OTHER_VERSIONS) -> str:
    """A chat of `messages` messages: its current branch holds all but `others` of them;
    each of the rest is an older version of a reply on that branch."""
    from chatterm.conversation import Conversation, Message, Role
    from chatterm.store import Store

    conversation = Conversation(provider="loop", model=MODEL, title="branched chat")
    path = messages - others
    replies = path // 2
    # Which replies get an older version: spread evenly over the branch.
    forked = {round(n * replies / others) for n in range(others)}
    assert len(forked) == others
    parent: str | None = None
    for index in range(path):
        if index % 2 == 0:
            content = f"Question {index}: how does the {index}th part of the system work?"
            message = Message(role=Role.USER, content=content, parent_id=parent)
        else:
            content = (f"Answer {index}. It works like this:\n\n- first **step**\n"
                       f"- second step with `code`\n\n```python\nprint({index})\n```\n\n"
                       f"That covers it. TREE{index}END")
            if index // 2 in forked:
                conversation.messages.append(Message(
                    role=Role.ASSISTANT, content=f"An older answer {index}.", parent_id=parent,
                    model=MODEL, provider="loop"))
            message = Message(role=Role.ASSISTANT, content=content, parent_id=parent,
                              model=MODEL, provider="loop")
        conversation.messages.append(message)
        parent = message.id
    conversation.current_id = parent
    assert len(conversation.messages) == messages
    with Store.open(bench.home / "data" / "chatterm.db") as store:
        store.create_conversation(conversation)
    return conversation.id


def open_from_sidebar(bench: Bench, title: str, rows_down: int, marker: str) -> float:
    """Ctrl+B, move to the chat's row, Enter: seconds until `marker` is on screen."""
    terminal, _ = bench.launch()
    try:
        time.sleep(READING)
        terminal.watch(title)
        terminal.type("\x02")  # Ctrl+B
        terminal.wait(title)
        time.sleep(0.2)  # the list has focus and its first row highlighted
        for _ in range(rows_down):
            terminal.type(DOWN)
            time.sleep(0.1)
        terminal.watch(marker)
        pressed = time.monotonic()
        terminal.type("\r")
        return terminal.wait(marker) - pressed
    finally:
        terminal.close()


def tree_view(bench: Bench, conversation_id: str, marker: str, summary: str,
              key: str = "\x14") -> float:
    """The branched chat open: `key` (Ctrl+T) until `summary` is on screen."""
    bench.forget_screen()
    from bench_tui import READY_MARKERS, Terminal

    terminal = Terminal(bench.env, "--resume", conversation_id)
    try:
        terminal.watch(*READY_MARKERS, marker)
        terminal.wait(*READY_MARKERS, marker)
        time.sleep(READING)
        terminal.watch(summary)
        pressed = time.monotonic()
        terminal.type(key)
        return terminal.wait(summary) - pressed
    finally:
        terminal.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    results: dict[str, list[float]] = {"straight": [], "branched": [], "tree view": [],
                                       "model picker": []}
    with tempfile.TemporaryDirectory(prefix="chatterm-bench-") as tmp:
        bench = Bench(Path(tmp))
        try:
            bench.t_launch()  # warm-up: bytecode, the database
            bench.seed_long_chat(MESSAGES)            # "long chat", second in the list
            branched = seed_branched_chat(bench)      # "branched chat", the newest
            last = f"TREE{MESSAGES - OTHER_VERSIONS - 1}END"
            summary = f"{MESSAGES:,} messages · {OTHER_VERSIONS + 1:,} branches"
            for run in range(args.runs):
                pair = [("straight", "long chat", 1, f"MSG{MESSAGES - 1}END"),
                        ("branched", "branched chat", 0, last)]
                for name, title, down, marker in pair if run % 2 == 0 else pair[::-1]:
                    results[name].append(open_from_sidebar(bench, title, down, marker))
                results["tree view"].append(tree_view(bench, branched, last, summary))
                results["model picker"].append(tree_view(bench, branched, last, PICKER,
                                                         key="\x0f"))  # Ctrl+O
                print(f"run {run + 1}: " + "  ".join(f"{k} {v[-1]:.3f} s"
                                                     for k, v in results.items()), flush=True)
        finally:
            bench.close()
    medians = {name: statistics.median(values) for name, values in results.items()}
    print(f"\n2,000-message chats opened from the sidebar, medians of {args.runs} runs")
    print(f"  straight (one branch)            {medians['straight']:.3f} s   target ≤ {TARGET} s")
    print(f"  branched (201 branches)          {medians['branched']:.3f} s   target ≤ {TARGET} s"
          f"  {'yes' if medians['branched'] <= TARGET else 'NO'}")
    print(f"  its tree view (Ctrl+T) drawn     {medians['tree view']:.3f} s")
    print(f"  its model picker (Ctrl+O) drawn  {medians['model picker']:.3f} s   (comparison)")
    print(json.dumps({k: round(v, 4) for k, v in medians.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
