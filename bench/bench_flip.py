"""Benchmark flipping between versions of a message in a long chat, as a user sees it.

Run:  python bench/bench_flip.py [--runs 7]

The real `python -m chatterm` in a pseudo-terminal (120x40), as in bench_tui.py, whose
terminal and set-up it uses. One saved conversation of 2,000 messages on its current
branch, with two messages that have another version:
  near the bottom  the last reply (version 2 of 2); its other version is a leaf
  near the top     the second message, the first reply (version 2 of 2); its other
                   version is a leaf too, so flipping to it drops the 1,998 messages below
                   and flipping back brings them again (a screenful is mounted)
The chat is opened with `--resume` and the last reply focused (Shift+Tab), or opened at
a search hit on the first prompt (Ctrl+F, a word only it holds, Enter), which focuses
it, and ↓ focuses the first reply. The markers waited for are words only the versions
hold (never the search term, which the sidebar shows too).
Then ← and → alternate; each press is timed from the key until the text of the version
it shows is on screen. Medians over --runs presses each way, in one process per place.
Target: <= 0.1 s. Beside them, the same chat's ↑/↓ between the last reply and its prompt
(the focus moves, the hint and the footer change, nothing is mounted): what any key that
changes the focused message costs on the host, the floor under a flip.
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

from bench_tui import MODEL, READING, Bench, Terminal

LEFT, RIGHT, UP, DOWN = "\x1b[D", "\x1b[C", "\x1b[A", "\x1b[B"
SHIFT_TAB, CTRL_F = "\x1b[Z", "\x06"
COUNT = 2000


def seed(bench: Bench) -> str:
    """The 2,000-message chat with a second version at the top and at the bottom."""
    from chatterm.conversation import Conversation, Message, Role
    from chatterm.store import Store

    conversation = Conversation(provider="loop", model=MODEL, title="long branched chat")
    cid = conversation.id
    messages: list[Message] = []

    def add(role: Role, content: str, parent: Message | None) -> Message:
        message = Message(role=role, content=content, conversation_id=cid,
                          parent_id=parent.id if parent else None,
                          created_at=1_600_000_000.0 + len(messages),
                          model=MODEL if role is Role.ASSISTANT else None,
                          provider="loop" if role is Role.ASSISTANT else None)
        messages.append(message)
        return message

    parent: Message | None = None
    first_prompt: Message | None = None
    for index in range(COUNT):
        if index % 2 == 0:
            # The first prompt holds a word found nowhere else, for the search.
            extra = " FINDTHEFIRSTPROMPT" if index == 0 else ""
            parent = add(Role.USER, f"Question {index}: how does part {index} work?{extra}",
                         parent)
            first_prompt = first_prompt or parent
            continue
        if index == 1:
            add(Role.ASSISTANT, "The older first answer. TOPOLDVERSION", parent)
        if index == COUNT - 1:
            add(Role.ASSISTANT, "The older last answer. BOTTOMOLDVERSION", parent)
        text = (f"Answer {index}. It works like this:\n\n- first **step**\n"
                f"- second step with `code`\n\nThat covers it. MSG{index}END")
        if index == 1:
            text += " TOPNEWVERSION"
        parent = add(Role.ASSISTANT, text, parent)
    assert parent is not None
    parent.content += " BOTTOMNEWVERSION"
    conversation.messages = messages
    conversation.current_id = parent.id
    with Store.open(bench.home / "data" / "chatterm.db") as store:
        store.create_conversation(conversation)
    return cid


def press(terminal: Terminal, key: str, marker: str) -> float:
    terminal.watch(marker)
    pressed = time.monotonic()
    terminal.type(key)
    return terminal.wait(marker, timeout=20) - pressed


def flips(terminal: Terminal, old: str, new: str, runs: int) -> tuple[list[float], list[float]]:
    """← to the older version, → back, `runs` times; the seconds of each."""
    back: list[float] = []
    forth: list[float] = []
    for _ in range(runs):
        time.sleep(0.3)  # a person looks at what came
        back.append(press(terminal, LEFT, old))
        time.sleep(0.3)
        forth.append(press(terminal, RIGHT, new))
    return back, forth


def focus_moves(terminal: Terminal, runs: int) -> list[float]:
    """↑ to the prompt above the last reply and ↓ back, `runs` times each: the floor of
    any key that changes what a focused message shows (the hint line and the footer's
    keys are redrawn), with nothing mounted or removed."""
    moves: list[float] = []
    for _ in range(runs):
        time.sleep(0.3)
        moves.append(press(terminal, UP, "e edit · c copy"))
        time.sleep(0.3)
        moves.append(press(terminal, DOWN, "←→ versions"))
    return moves


def near_bottom(bench: Bench, cid: str,
                runs: int) -> tuple[list[float], list[float], list[float]]:
    bench.forget_screen()
    terminal = Terminal(bench.env, "--resume", cid)
    try:
        terminal.watch("BOTTOMNEWVERSION")
        terminal.wait("BOTTOMNEWVERSION")
        time.sleep(READING)
        terminal.watch("←→ versions")
        terminal.type(SHIFT_TAB)  # the conversation: its last message gets the focus
        terminal.wait("←→ versions")
        floor = focus_moves(terminal, runs)
        return floor, *flips(terminal, "BOTTOMOLDVERSION", "BOTTOMNEWVERSION", runs)
    finally:
        terminal.close()


def near_top(bench: Bench, cid: str, runs: int) -> tuple[list[float], list[float]]:
    terminal, _ = bench.launch()
    try:
        time.sleep(READING)
        terminal.watch("long branched chat")
        terminal.type(CTRL_F)
        time.sleep(0.3)
        terminal.type("FINDTHEFIRSTPROMPT")
        terminal.wait("long branched chat")
        time.sleep(0.5)  # the hits are listed
        terminal.watch("TOPNEWVERSION", "e edit")
        terminal.type("\r")  # opens the chat at the hit (the first prompt), focused
        terminal.wait("TOPNEWVERSION", "e edit")
        time.sleep(0.3)
        terminal.watch("←→ versions")
        terminal.type(DOWN)  # the first reply
        terminal.wait("←→ versions")
        return flips(terminal, "TOPOLDVERSION", "TOPNEWVERSION", runs)
    finally:
        terminal.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="chatterm-bench-") as tmp:
        bench = Bench(Path(tmp))
        try:
            bench.t_launch()  # warm-up: bytecode, the database
            cid = seed(bench)
            floor, back, forth = near_bottom(bench, cid, args.runs)
            results["↑/↓ between two messages (no flip: the floor)"] = statistics.median(floor)
            results["near the bottom: to the older version"] = statistics.median(back)
            results["near the bottom: back to the newer"] = statistics.median(forth)
            back, forth = near_top(bench, cid, args.runs)
            results["near the top: to the older version (1,998 messages go)"] = (
                statistics.median(back))
            results["near the top: back to the newer (1,998 messages come)"] = (
                statistics.median(forth))
        finally:
            bench.close()
    print(f"flipping a version in a {COUNT:,}-message chat, 120x40, medians of {args.runs}:")
    for name, value in results.items():
        target = "" if "floor" in name else "  (target <= 0.1 s)"
        print(f"  {name:58} {value:.3f} s{target}")
    print(json.dumps({k: round(v, 4) for k, v in results.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
