"""Store benchmark: listing, search and opening big conversations on a realistic database.

Run: python bench/bench_store.py   (from the repo root; about two minutes)
     python bench/bench_store.py --wal   (only the write amplification of a streaming save)
     python bench/bench_store.py --tree  (only the trees, on a store holding just them)
     python bench/bench_store.py --upgrade  (only the schema 3 -> 4 upgrade of that store)

Builds, in a temp dir, 10,000 conversations holding 200,000 messages of Zipf-distributed
words, plus one conversation of 2,000 and one of 100,000 messages, and a conversation of
2,000 messages in 200 branches, then prints the median of several runs for each
operation next to its target. The tree rows stand beside the same operations on the
straight 2,000-message conversation.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chatterm.conversation import Conversation, Message, MessageState, Role
from chatterm.store import Store

CONVERSATIONS = 10_000
MESSAGES = 200_000
RUNS = 7
SEARCHES = ("python", "error handling", "database migration", "zyxq", "implem",
            "the function returns")

_COMMON = [
    "the", "a", "to", "of", "and", "is", "in", "it", "you", "that", "for", "this", "with",
    "on", "be", "are", "can", "as", "not", "or", "function", "error", "value", "data", "file",
    "return", "use", "code", "python", "database", "query", "list", "handling", "migration",
    "test", "returns", "implement", "implementation", "type", "string",
]


def vocabulary(rng: random.Random, size: int = 5000) -> tuple[list[str], list[float]]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = list(_COMMON)
    while len(words) < size:
        words.append("".join(rng.choices(letters, k=rng.randint(3, 10))))
    cumulative, total = [], 0.0
    for rank in range(1, len(words) + 1):
        total += 1.0 / rank  # Zipf: the n-th word is n times rarer than the first
        cumulative.append(total)
    return words, cumulative


class TextMaker:
    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.words, self.cumulative = vocabulary(self.rng)

    def text(self, n_words: int) -> str:
        return " ".join(self.rng.choices(self.words, cum_weights=self.cumulative, k=n_words))

    def message(self, conv_id: str, index: int, when: float) -> Message:
        user = index % 2 == 0
        return Message(role=Role.USER if user else Role.ASSISTANT,
                       content=self.text(self.rng.randint(5, 25) if user
                                         else self.rng.randint(40, 120)),
                       conversation_id=conv_id, created_at=when,
                       provider=None if user else "aimlapi",
                       model=None if user else "gpt-4o")


def build(store: Store, maker: TextMaker) -> tuple[str, str, float, tuple[str, str, str]]:
    clock = 1_700_000_000.0
    per_conversation = MESSAGES // CONVERSATIONS
    for n in range(CONVERSATIONS):
        conv = Conversation(provider="aimlapi", model="gpt-4o", title=maker.text(5),
                            created_at=clock, updated_at=clock)
        conv.messages = [maker.message(conv.id, i, clock + i) for i in range(per_conversation)]
        conv.updated_at = clock + per_conversation
        store.import_conversation(conv)
        clock += 60
        if n % 1000 == 999:
            print(f"  {n + 1:>6} conversations", file=sys.stderr)
    tree = build_tree(store, maker)
    medium = Conversation(provider="aimlapi", model="gpt-4o", title="two thousand")
    medium.messages = [maker.message(medium.id, i, clock + i) for i in range(2_000)]
    store.import_conversation(medium)
    huge = Conversation(provider="aimlapi", model="gpt-4o", title="one hundred thousand")
    huge.messages = [maker.message(huge.id, i, clock + i) for i in range(100_000)]
    started = time.perf_counter()
    store.import_conversation(huge)
    return medium.id, huge.id, time.perf_counter() - started, tree


def build_tree(store: Store, maker: TextMaker, size: int = 2_000,
               branches: int = 200) -> tuple[str, str, str]:
    """A conversation of `size` messages with `branches` leaves: a main line, and
    `branches - 1` other versions of its replies, each with a prompt and reply below it.
    The side branches are made last, so the current (main) branch is not the newest by
    position and is read by walking it. Returns (id, main leaf, a side leaf)."""
    rng = random.Random(7)
    conv = Conversation(provider="aimlapi", model="gpt-4o", title="two thousand, branched")
    side = branches - 1
    main_length = size - 3 * side
    clock = 1_750_000_000.0
    line: list[Message] = []
    for index in range(main_length):
        message = maker.message(conv.id, index, clock + index)
        message.parent_id = line[-1].id if line else None
        line.append(message)
    messages = list(line)
    replies = [m for m in line[:-2] if m.role is Role.ASSISTANT]
    side_leaf = ""
    for n, reply in enumerate(rng.sample(replies, side)):
        when = clock + main_length + 3 * n
        version = maker.message(conv.id, 1, when)
        version.parent_id = reply.parent_id
        prompt = maker.message(conv.id, 0, when + 1)
        prompt.parent_id = version.id
        answer = maker.message(conv.id, 1, when + 2)
        answer.parent_id = prompt.id
        messages += [version, prompt, answer]
        side_leaf = answer.id
    conv.messages = messages
    conv.current_id = line[-1].id
    store.import_conversation(conv)
    return conv.id, line[-1].id, side_leaf


def tree_rows(store: Store, straight_id: str, tree: tuple[str, str, str]
              ) -> list[tuple[str, float, float | None]]:
    tree_id, main_leaf, side_leaf = tree
    straight_leaf = store.get_conversation(straight_id, last_n=1).messages[-1].id
    assert len(store.shape(tree_id).leaves()) == 200 and store.count_messages(tree_id) == 2000
    flips = iter(range(10**9))

    def flip() -> None:  # alternate, so every run really changes the branch
        store.set_current(tree_id, side_leaf if next(flips) % 2 else main_leaf)

    rows: list[tuple[str, float, float | None]] = []
    for label, conv_id in (("straight", straight_id), ("200 branches", tree_id)):
        rows.append((f"get_conversation(last_n=50), 2,000 messages, {label}",
                     median_time(lambda c=conv_id: store.get_conversation(c, last_n=50)),
                     None))
    for label, conv_id in (("straight", straight_id), ("200 branches", tree_id)):
        rows.append((f"get_conversation() whole branch, 2,000 messages, {label}",
                     median_time(lambda c=conv_id: store.get_conversation(c), runs=3), None))
    for label, conv_id in (("straight", straight_id), ("200 branches", tree_id)):
        rows.append((f"shape(), 2,000 messages, {label}",
                     median_time(lambda c=conv_id: store.shape(c)), None))
    rows.append(("set_current(), 2,000 messages, straight",
                 median_time(lambda: store.set_current(straight_id, straight_leaf)), None))
    rows.append(("set_current() to another branch, 2,000 messages, 200 branches",
                 median_time(flip), None))
    store.set_current(tree_id, main_leaf)
    return rows


def tree_only() -> list[tuple[str, float, float | None]]:
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "chatterm.db") as store:
        maker = TextMaker()
        straight = Conversation(provider="aimlapi", model="gpt-4o", title="two thousand")
        straight.messages = [maker.message(straight.id, i, 1.7e9 + i) for i in range(2_000)]
        store.import_conversation(straight)
        return tree_rows(store, straight.id, build_tree(store, maker))


def median_time(action: Callable[[], object], runs: int = RUNS) -> float:
    action()  # warm the page cache, as a second `chatterm list` would
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def streaming_update_time(store: Store, conv_id: str, maker: TextMaker) -> float:
    """Median cost of one save of a reply that grows to 1 MB (as during a stream)."""
    reply = Message(role=Role.ASSISTANT, conversation_id=conv_id,
                    state=MessageState.STREAMING)
    store.add_message(reply)
    piece = maker.text(8000)  # ~50 kB per save
    times = []
    while len(reply.content) < 1_000_000:
        reply.content += piece
        started = time.perf_counter()
        store.update_message(reply)
        times.append(time.perf_counter() - started)
    reply.state = MessageState.COMPLETE
    store.update_message(reply)
    return statistics.median(times)


def long_message_rows() -> list[tuple[str, float, float | None]]:
    """Search and open a 50 MB message whose every other word is the one searched for.

    FTS5's snippet() alone is quadratic in a message's hits (2 MB: 6 s; 50 MB: over ten
    minutes); chatterm.store.snippets keeps this near the cost of a normal search."""
    rows: list[tuple[str, float, float | None]] = []
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "long.db") as store:
        maker = TextMaker(seed=2)
        conv = Conversation(provider="p", model="m", title="a 50 MB message")
        store.create_conversation(conv)
        block = "".join("word " + maker.text(20) + " " for _ in range(500))
        text = block * (50 * 1024 * 1024 // len(block)) + "needle at the very end"
        store.add_message(Message(role=Role.ASSISTANT, content=text, conversation_id=conv.id,
                                  state=MessageState.COMPLETE))
        store.add_message(Message(role=Role.USER, content="a short word",
                                  conversation_id=conv.id))
        for query, label in (("word", "a word all through it"),
                             ("needle", "a word only at its end")):
            rows.append((f"search a 50 MB message: {label}",
                         median_time(lambda q=query: store.search(q), runs=3), 1.0))
        rows.append(("get_conversation() holding the 50 MB message",
                     median_time(lambda: store.get_conversation(conv.id), runs=3), None))
    return rows


def _bytes_written() -> int:
    # wchar: bytes this process passed to write() and pwrite(), SQLite's WAL included.
    with open("/proc/self/io") as io:
        return next(int(line.split()[1]) for line in io if line.startswith("wchar:"))


def wal_amplification(size: int = 1_000_000, step: int = 400) -> tuple[float, float]:
    """A reply growing by `step` bytes per save (0.5 s of ~100 tokens/s) to `size`:
    (bytes written / reply size, peak -wal file size / reply size)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "chatterm.db"
        with Store.open(path) as store:
            conv = Conversation(provider="p", model="m", title="long")
            store.create_conversation(conv)
            reply = Message(role=Role.ASSISTANT, conversation_id=conv.id,
                            state=MessageState.STREAMING)
            store.add_message(reply)
            wal = path.with_name(path.name + "-wal")
            before, peak = _bytes_written(), 0
            piece = "word " * (step // 5)
            while len(reply.content) < size:
                reply.content += piece
                store.update_message(reply)
                peak = max(peak, wal.stat().st_size)
            reply.state = MessageState.COMPLETE
            store.update_message(reply)
            peak = max(peak, wal.stat().st_size)
            written = _bytes_written() - before
    return written / size, peak / size


def upgrade_rows(runs: int = 3) -> list[tuple[str, float, float | None]]:
    """Schema 3 -> 4 (tool calls searchable: the full-text index is made again) of the
    10,000-conversation store written at version 3, one reply in ten ending in a call."""
    import shutil

    from chatterm.conversation import ToolCall
    from chatterm.store.schema import MIGRATIONS

    with tempfile.TemporaryDirectory() as tmp:
        v3 = Path(tmp) / "v3.db"
        maker = TextMaker()
        clock = 1_700_000_000.0
        per_conversation = MESSAGES // CONVERSATIONS
        with Store.open(v3, migrations=MIGRATIONS[:3]) as store:
            for _ in range(CONVERSATIONS):
                conv = Conversation(provider="aimlapi", model="gpt-4o", title=maker.text(5))
                conv.messages = [maker.message(conv.id, i, clock + i)
                                 for i in range(per_conversation)]
                for index, message in enumerate(conv.messages[1::2]):
                    if index % 10 == 0:
                        message.tool_calls = [ToolCall(f"call_{index}", "get_current_time",
                                                       '{"timezone": "Asia/Tokyo"}')]
                store.import_conversation(conv)
                clock += 60
        size_mb = v3.stat().st_size / 1e6
        times = []
        for run in range(runs):
            path = Path(tmp) / f"run{run}" / "chatterm.db"
            path.parent.mkdir()
            shutil.copyfile(v3, path)
            started = time.perf_counter()
            Store.open(path).close()
            times.append(time.perf_counter() - started)
    return [(f"upgrade 3 -> 4 of {MESSAGES:,} messages ({size_mb:.0f} MB; backup "
             "included)", statistics.median(times), None)]


def main() -> None:
    if "--upgrade" in sys.argv:
        report(upgrade_rows())
        return
    if "--wal" in sys.argv:
        for size in (100_000, 1_000_000):
            written, peak = wal_amplification(size)
            print(f"reply of {size:,} B saved every 400 B: {written:.1f}x written, "
                  f"-wal peak {peak:.1f}x")
        return
    rows: list[tuple[str, float, float | None]] = []
    if "--tree" in sys.argv:
        report(tree_only())
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "chatterm.db"
        maker = TextMaker()
        started = time.perf_counter()
        with Store.open(path) as store:
            medium_id, huge_id, huge_import, tree = build(store, maker)
        build_time = time.perf_counter() - started
        size_mb = path.stat().st_size / 1e6
        print(f"built {CONVERSATIONS:,} conversations / {MESSAGES:,} messages "
              f"+ 2,000 + 100,000 in {build_time:.1f} s ({size_mb:.0f} MB)", file=sys.stderr)

        rows.append(("open the store", median_time(lambda: Store.open(path).close()), None))
        with Store.open(path) as store:
            rows.append(("list_conversations(): all 10,002 summaries",
                         median_time(store.list_conversations), 0.15))
            rows.append(("list_conversations(limit=50)",
                         median_time(lambda: store.list_conversations(limit=50)), None))
            search_times = []
            for query in SEARCHES:
                spent = median_time(lambda q=query: store.search(q))
                search_times.append(spent)
                hits = len(store.search(query))
                rows.append((f"search {query!r} ({hits} hits)", spent, 0.15))
            rows.append(("search: median over the queries above",
                         statistics.median(search_times), 0.15))
            rows.append(("get_conversation(last_n=50), 2,000 messages",
                         median_time(lambda: store.get_conversation(medium_id, last_n=50)),
                         None))
            rows.append(("get_conversation(last_n=50), 100,000 messages",
                         median_time(lambda: store.get_conversation(huge_id, last_n=50)),
                         None))
            rows.append(("load_messages(50 earlier), 100,000 messages",
                         median_time(lambda: store.load_messages(huge_id, 50_000, 50)), None))
            rows.append(("get_conversation(), all 2,000 messages",
                         median_time(lambda: store.get_conversation(medium_id), runs=3), None))
            rows.append(("import_conversation(), 100,000 messages (one run)", huge_import,
                         None))
            rows.extend(tree_rows(store, medium_id, tree))
            rows.append(("update_message() of a reply growing to 1 MB",
                         streaming_update_time(store, medium_id, maker), 0.5))

    rows.extend(long_message_rows())
    report(rows)


def report(rows: list[tuple[str, float, float | None]]) -> None:
    width = max(len(name) for name, _, _ in rows)
    print(f"{'operation':<{width}}  {'median':>9}  {'target':>7}")
    print(f"{'-' * width}  {'-' * 9}  {'-' * 7}")
    for name, seconds, target in rows:
        verdict = "" if target is None else ("  ok" if seconds <= target else "  SLOW")
        target_text = f"{target:.2f} s" if target is not None else "-"
        print(f"{name:<{width}}  {seconds * 1000:7.1f} ms  {target_text:>7}{verdict}")


if __name__ == "__main__":
    main()
