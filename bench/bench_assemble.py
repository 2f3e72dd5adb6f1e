"""Reply assembly benchmark: the cost per token must not grow with the reply.

Run: python bench/bench_assemble.py   (from the repo root; about half a minute)

Feeds N tokens of 8 bytes, as parsed SSE events, through the StreamAssembler for the
content, the reasoning and one tool call's arguments (each its own run), then reads the
whole reply once, as the engine does at a save point or at the end. Prints the time per
token for N = 10,000 ... 400,000; a quadratic assembler (`content += text`) shows a time
per token that grows with N (54 s for 400,000 content tokens before this bench existed).
A second table streams the tokens through the engine (ChatSession with a store, saving
every 0.5 s) from an in-process client, the path the CLI and the app take.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chatterm.api.assemble import StreamAssembler
from chatterm.api.sse import SSEEvent
from chatterm.api.types import ChatRequest, Finished, Started

SIZES = (10_000, 50_000, 100_000, 200_000, 400_000)
RUNS = 3
TOKEN = "token.. "  # 8 bytes


def events(kind: str, n: int) -> list[SSEEvent]:
    if kind == "content":
        body = f'{{"choices":[{{"index":0,"delta":{{"content":"{TOKEN}"}}}}]}}'
    elif kind == "reasoning":
        body = f'{{"choices":[{{"index":0,"delta":{{"reasoning_content":"{TOKEN}"}}}}]}}'
    else:
        body = ('{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,'
                f'"function":{{"arguments":"{TOKEN}"}}}}]}}}}]}}')
    return [SSEEvent(data=body)] * n


def assemble_once(kind: str, stream: list[SSEEvent]) -> float:
    assembler = StreamAssembler()
    start = time.perf_counter()
    for event in stream:
        assembler.feed_event(event)
    reply = assembler.reply
    total = len(reply.content) + len(reply.reasoning) + sum(
        len(call.arguments) for call in reply.tool_calls)
    spent = time.perf_counter() - start
    assert total == len(TOKEN) * len(stream), (kind, total)
    return spent


class _ListClient:
    """A client that streams prepared deltas without HTTP, to time the engine alone."""

    def __init__(self, n: int) -> None:
        self.n = n

    async def stream(self, request: ChatRequest) -> AsyncIterator[Any]:
        assembler = StreamAssembler()
        yield Started()
        event = events("content", 1)[0]
        for index in range(self.n):
            yield assembler.feed_event(event)
            if index % 2000 == 0:
                await asyncio.sleep(0)  # let the saver run, as network reads would
        assembler.reply.finish_reason = "stop"
        yield Finished(assembler.reply)

    async def aclose(self) -> None:
        return None


def engine_once(n: int, data_dir: Path) -> float:
    from chatterm.config import Config
    from chatterm.conversation import Conversation
    from chatterm.engine.session import ChatSession
    from chatterm.store import Store

    config = Config()
    conversation = Conversation(provider=config.default_provider, model="m")
    with Store.open(data_dir / f"bench-{n}.db") as store:
        session = ChatSession(store, config, conversation, api_key="k",
                              client_factory=lambda _p, _k: _ListClient(n))
        start = time.perf_counter()
        reply = asyncio.run(session.send("hi"))
        spent = time.perf_counter() - start
    assert len(reply.content) == len(TOKEN) * n
    return spent


def main() -> None:
    print(f"{'tokens':>10}  {'content':>12}  {'reasoning':>12}  {'tool args':>12}"
          "   (median microseconds per token)")
    per_token: dict[str, list[float]] = {"content": [], "reasoning": [], "tool": []}
    for n in SIZES:
        row = []
        for kind in per_token:
            stream = events(kind, n)
            spent = statistics.median(assemble_once(kind, stream) for _ in range(RUNS))
            per_token[kind].append(spent / n * 1e6)
            row.append(spent / n * 1e6)
        print(f"{n:>10,}  " + "  ".join(f"{value:>12.2f}" for value in row))
    for kind, values in per_token.items():
        growth = values[-1] / values[0]
        print(f"{kind}: {SIZES[-1]:,} tokens cost {growth:.2f}x the time per token of "
              f"{SIZES[0]:,} (target: below 2x)")
    print()
    print(f"{'tokens':>10}  {'engine+store':>12}   (median microseconds per token, saving "
          "every 0.5 s)")
    with tempfile.TemporaryDirectory() as tmp:
        engine: list[float] = []
        for n in SIZES:
            spent = statistics.median(engine_once(n, Path(tmp)) for _ in range(RUNS))
            engine.append(spent / n * 1e6)
            print(f"{n:>10,}  {engine[-1]:>12.2f}")
    print(f"engine: {SIZES[-1]:,} tokens cost {engine[-1] / engine[0]:.2f}x the time per "
          f"token of {SIZES[0]:,} (target: below 2x)")


if __name__ == "__main__":
    main()
