"""A/B of bench_tui.py's headline scenarios: this checkout against another, interleaved.

    python bench/ab_tui.py OTHER_CHECKOUT [--runs 5] [--no-paced] [--no-long]

Each round runs every scenario once for each build, the build going first alternating
round by round, so both meet the same moments of a noisy host; the table is the medians.
Each build gets a data directory of its own (a newer build upgrades the store's schema,
which an older build then refuses to open), and its 2,000-message chat is saved by its own
code. The scenarios are bench_tui.py's (see its docstring): launch and the bare Textual
app beside it, first token, 2,000 and 8,000 tokens sent at once (time, CPU, peak RSS),
2,000 tokens at 100 tokens/s (lag after the last byte, CPU), and the 2,000-message chat
opened from the sidebar and by `--resume`.

Run it from a plain copy of each build (`git archive REV | tar -x -C DIR`): measured from a
git worktree with an editable install, even the bare Textual app launched slower (issue
12's figures), which read as a regression of the code.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_tui import REPO, Bench

# Run with the build's own code (PYTHONPATH), so its own schema makes the database.
SEED = """
import sys
from chatterm.conversation import Conversation, Message, Role
from chatterm.store import Store
conversation = Conversation(provider="loop", model=sys.argv[2], title="long chat")
for index in range(int(sys.argv[3])):
    if index % 2 == 0:
        content = f"Question {index}: how does the {index}th part of the system work?"
        conversation.messages.append(Message(role=Role.USER, content=content))
    else:
        content = (f"Answer {index}. It works like this:\\n\\n- first **step**\\n"
                   f"- second step with `code`\\n\\n```python\\nprint({index})\\n```\\n\\n"
                   f"That covers it. MSG{index}END")
        conversation.messages.append(Message(role=Role.ASSISTANT, content=content,
                                             model=sys.argv[2], provider="loop"))
with Store.open(sys.argv[1]) as store:
    store.create_conversation(conversation)
print(conversation.id)
"""


def seed(bench: Bench, count: int = 2000) -> str:
    from bench_tui import MODEL

    result = subprocess.run(
        [sys.executable, "-c", SEED, str(bench.home / "data" / "chatterm.db"), MODEL,
         str(count)], env=bench.env, check=True, capture_output=True, text=True)
    return result.stdout.strip()


def scenarios(bench: Bench, long_chat: tuple[Bench, str] | None,
              paced: bool) -> dict[str, float]:
    out: dict[str, float] = {}
    out["launch"] = bench.t_launch()
    out["bare Textual launch"] = bench.t_bare_textual_launch()
    out["first token"] = bench.t_first_token()
    t2, rss2, cpu2 = bench.t_all_at_once(2000)
    t8, rss8, _ = bench.t_all_at_once(8000)
    out["2,000 at once"] = t2
    out["CPU/1k at once"] = cpu2
    out["8k/2k ratio"] = t8 / t2
    out["peak RSS MB"] = max(rss2, rss8)
    if paced:
        lag, cpu = bench.t_paced(2000, 100.0)
        out["100 tok/s lag"] = lag
        out["CPU/1k at 100 tok/s"] = cpu
    if long_chat is not None:
        # A data directory holding only the long chat: it stays the sidebar's first row.
        quiet, long_id = long_chat
        out["2,000 msgs from sidebar"] = quiet.t_open_from_sidebar("long chat", "MSG1999END")
        out["2,000 msgs --resume"] = quiet.t_long_chat(long_id, "MSG1999END")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-paced", action="store_true", help="skip 100 tok/s (20 s a run)")
    parser.add_argument("--no-long", action="store_true", help="skip the 2,000-message chat")
    args = parser.parse_args(argv)
    other = args.other.resolve()
    if not (other / "chatterm").is_dir():
        print(f"ab_tui: {other} holds no chatterm package", file=sys.stderr)
        return 2
    builds = {"this": REPO, "other": other}
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in builds}
    with tempfile.TemporaryDirectory(prefix="chatterm-ab-") as tmp:
        benches: dict[str, Bench] = {}
        long_chats: dict[str, tuple[Bench, str] | None] = {}
        try:
            for name, repo in builds.items():
                bench = Bench(Path(tmp) / name)
                bench.use(repo)
                benches[name] = bench
                bench.t_launch()  # warm-up: creates the database, warms the disk cache
                bench.t_bare_textual_launch()
                if args.no_long:
                    long_chats[name] = None
                    continue
                quiet = Bench(Path(tmp) / f"{name}-long")
                quiet.use(repo)
                benches[f"{name}-long"] = quiet
                long_chats[name] = quiet, seed(quiet)
            for run in range(args.runs):
                order = list(builds) if run % 2 == 0 else list(reversed(builds))
                for name in order:
                    result = scenarios(benches[name], long_chats[name], not args.no_paced)
                    samples[name].append(result)
                    shown = "  ".join(f"{key} {value:.3f}" for key, value in result.items())
                    print(f"run {run + 1} {name:5} {shown}", flush=True)
        finally:
            for bench in benches.values():
                bench.close()
    print(f"\nmedians of {args.runs} interleaved rounds; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'measurement':26} {'this':>9} {'other':>9}  change")
    median: Callable[[str, str], float] = lambda name, key: statistics.median(  # noqa: E731
        sample[key] for sample in samples[name])
    for key in samples["this"][0]:
        this, that = median("this", key), median("other", key)
        print(f"{key:26} {this:9.3f} {that:9.3f}  {(this / that - 1) * 100:+.0f} %")
    print(f"this = {REPO}, other = {other}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
