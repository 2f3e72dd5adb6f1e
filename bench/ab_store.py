"""A/B of the store's everyday reads: this checkout against another one, interleaved.

Run: python bench/ab_store.py /path/to/other/checkout [--rounds 5]
     python bench/ab_store.py /path/to/other/checkout --import   (a 100,000-message
         import into a fresh store, the two builds alternating, --rounds times each)

Each side starts a worker process running its own code (PYTHONPATH = its checkout), which
builds the database of bench_store.py with its own `build()` (so each side has its own
schema) and then answers one operation at a time. The operations alternate between the
two sides (which goes first alternates too), round after round, so both feel the same
load on a shared machine; each cell
is the median over the rounds of each round's median of RUNS runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

WORKER = r"""
import shutil, sys, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[1] + "/bench")
import bench_store as b
from chatterm.store import Store

tmp = tempfile.mkdtemp()
path = Path(tmp) / "chatterm.db"
with Store.open(path) as store:
    built = b.build(store, b.TextMaker())
medium, huge = built[0], built[1]
store = Store.open(path)
ops = {
    "open the store": lambda: Store.open(path).close(),
    "list_conversations(): all 10,002": store.list_conversations,
    "list_conversations(limit=50)": lambda: store.list_conversations(limit=50),
    "get_conversation(last_n=50), 2,000 msgs": lambda: store.get_conversation(medium, last_n=50),
    "get_conversation(last_n=50), 100,000 msgs": lambda: store.get_conversation(huge, last_n=50),
    "load_messages(50 earlier), 100,000 msgs": lambda: store.load_messages(huge, 50_000, 50),
    "get_conversation(), all 2,000 msgs": lambda: store.get_conversation(medium),
}
for query in b.SEARCHES:
    ops[f"search {query!r}"] = lambda q=query: store.search(q)
print("ready " + "|".join(ops), flush=True)
for line in sys.stdin:
    name = line.rstrip("\n")
    print(b.median_time(ops[name]) * 1000, flush=True)
store.close()
shutil.rmtree(tmp)
"""


IMPORT = r"""
import sys, tempfile, time
sys.path.insert(0, sys.argv[1] + "/bench")
import bench_store as b
from pathlib import Path
from chatterm.conversation import Conversation
from chatterm.store import Store

maker = b.TextMaker()
with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "chatterm.db") as store:
    huge = Conversation(provider="aimlapi", model="gpt-4o", title="one hundred thousand")
    huge.messages = [maker.message(huge.id, i, 1.7e9 + i) for i in range(100_000)]
    started = time.perf_counter()
    store.import_conversation(huge)
    print(time.perf_counter() - started)
"""


def import_times(checkouts: dict[str, Path], rounds: int) -> None:
    times: dict[str, list[float]] = {side: [] for side in checkouts}
    for round_number in range(rounds):
        order = list(checkouts.items())
        if round_number % 2:
            order.reverse()
        for side, checkout in order:
            done = subprocess.run([sys.executable, "-c", IMPORT, str(checkout)],
                                  env={**os.environ, "PYTHONPATH": str(checkout)},
                                  capture_output=True, text=True, check=True)
            times[side].append(float(done.stdout))
    for side, found in times.items():
        print(f"import_conversation(), 100,000 messages, {side}: median "
              f"{statistics.median(found):.2f} s of {', '.join(f'{t:.2f}' for t in found)}")


def start(checkout: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    return subprocess.Popen([sys.executable, "-c", WORKER, str(checkout)], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, help="the other checkout (the baseline)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--import", dest="import_only", action="store_true")
    args = parser.parse_args()
    if args.import_only:
        import_times({"this": HERE.parent, "other": args.other.resolve()}, args.rounds)
        return
    sides = {"this": start(HERE.parent), "other": start(args.other.resolve())}
    names: list[str] = []
    for worker in sides.values():
        assert worker.stdout is not None
        ready = worker.stdout.readline().rstrip("\n")
        if not ready.startswith("ready "):
            raise SystemExit(f"a worker failed to build its database: {ready!r}")
        names = ready.removeprefix("ready ").split("|")
    results: dict[tuple[str, str], list[float]] = {}
    for round_number in range(args.rounds):
        # Which side goes first alternates, so neither always meets a cache the other
        # just warmed (or a CPU the other just heated).
        order = list(sides.items())
        if round_number % 2:
            order.reverse()
        for name in names:
            for side, worker in order:
                assert worker.stdin is not None and worker.stdout is not None
                worker.stdin.write(name + "\n")
                worker.stdin.flush()
                results.setdefault((name, side), []).append(float(worker.stdout.readline()))
    for worker in sides.values():
        assert worker.stdin is not None
        worker.stdin.close()
        worker.wait()
    width = max(len(name) for name in names)
    print(f"{'operation':<{width}}  {'this':>9}  {'other':>9}")
    for name in names:
        this = statistics.median(results[(name, "this")])
        other = statistics.median(results[(name, "other")])
        print(f"{name:<{width}}  {this:7.2f} ms  {other:7.2f} ms")
    search = [n for n in names if n.startswith("search")]
    for side in sides:
        value = statistics.median(statistics.median(results[(n, side)]) for n in search)
        print(f"search median over the queries, {side}: {value:.2f} ms")


if __name__ == "__main__":
    main()
