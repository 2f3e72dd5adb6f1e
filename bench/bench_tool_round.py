"""Tool loop benchmark: what one tool round costs beyond the tool's own time.

Run: python bench/bench_tool_round.py [--runs 15] [--tool-time 0.05]   (from the repo root)

In-process, against the loopback server (tests/loopback.py) and a real Store in a temp
data dir. Each run times two sends, interleaved:
  - plain: a prompt whose reply has no tool calls (tools offered all the same);
  - round: a prompt whose reply calls one tool, which sleeps --tool-time seconds
    (measured inside it), then the model answers.
The overhead of the round is round - plain - the tool's own time: the events, the saves
of the tool message and the new reply, the second request. It is printed as the median
of --runs, next to the target (<= 50 ms). With mcp-server-time installed and
chatterm.mcp.host present, the same round through the real McpHost (stdio JSON-RPC to
the reference server's get_current_time) is printed too, whole (the server's own time
cannot be told apart from the pipe's, so that row is an upper bound).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

TARGET = 0.050


def isolate(root: Path) -> None:
    os.environ["CHATTERM_CONFIG"] = str(root / "config" / "config.toml")
    os.environ["CHATTERM_DATA_DIR"] = str(root / "data")
    os.environ["CHATTERM_CACHE_DIR"] = str(root / "cache")


async def run(runs: int, tool_time: float) -> None:
    from chatterm_env import write_config
    from loopback import LoopbackServer, sse_reply, tool_call_reply
    from tool_box import Box

    from chatterm.config import load_config
    from chatterm.conversation import Conversation
    from chatterm.engine.session import ChatSession
    from chatterm.store import Store

    own: list[float] = []

    async def nap(arguments: dict[str, Any]) -> str:
        start = time.perf_counter()
        await asyncio.sleep(tool_time)
        own.append(time.perf_counter() - start)
        return "rested"

    server = LoopbackServer()
    server.start()
    store = Store.open()
    try:
        write_config(server.url)
        config = load_config()
        box = Box({"nap": nap})

        def session() -> ChatSession:
            conversation = Conversation(provider=config.default_provider,
                                        model=config.default_model)
            made = ChatSession(store, config, conversation)
            made.tools = box
            return made

        plain: list[float] = []
        overhead: list[float] = []
        for attempt in range(runs + 1):  # the first of each is a warm-up
            server.script("chat/completions", sse_reply(["ok"]))
            one = session()
            start = time.perf_counter()
            await one.send("hi")
            t_plain = time.perf_counter() - start
            server.script("chat/completions", [tool_call_reply([("c1", "nap", "{}")]),
                                               sse_reply(["ok"])])
            two = session()
            start = time.perf_counter()
            final = await two.send("hi")
            t_round = time.perf_counter() - start
            assert final.content == "ok", final
            await one.aclose()
            await two.aclose()
            if attempt:
                plain.append(t_plain)
                overhead.append(t_round - t_plain - own[-1])
        print(f"plain send (no tool call):          {statistics.median(plain) * 1000:7.1f} ms")
        print(f"tool round overhead (in-process):   {statistics.median(overhead) * 1000:7.1f} ms"
              f"   target <= {TARGET * 1000:.0f} ms   (median of {runs}; tool slept "
              f"{tool_time * 1000:.0f} ms)")
        await through_host(server, store, config, runs, session_factory=ChatSession)
    finally:
        store.close()
        server.stop()


async def through_host(server: Any, store: Any, config: Any, runs: int,
                       session_factory: Any) -> None:
    """The same round through the real McpHost and mcp-server-time, when both exist."""
    try:
        from chatterm.mcp.config import McpConfig, McpServerConfig
        from chatterm.mcp.host import McpHost
    except ImportError:
        print("through McpHost: skipped (chatterm.mcp.host is not there)")
        return
    command = shutil.which("mcp-server-time") or str(Path(sys.executable).parent
                                                     / "mcp-server-time")
    if not Path(command).exists():
        print("through McpHost: skipped (mcp-server-time is not installed)")
        return
    from loopback import sse_reply, tool_call_reply

    from chatterm.conversation import Conversation

    mcp = McpConfig(servers=(McpServerConfig(name="time", command=command,
                                             approve="auto"),))
    log_dir = Path(tempfile.mkdtemp(prefix="chatterm-bench-mcp-"))
    host = McpHost(mcp, log_dir=log_dir, config_path=None, on_change=None)
    host.start()
    try:
        await host.wait_ready(30)
        tool = next(spec for spec in host.specs() if spec.tool == "get_current_time")
        rounds: list[float] = []
        plain: list[float] = []
        for attempt in range(runs + 1):
            server.script("chat/completions", sse_reply(["ok"]))
            one = session_factory(store, config, Conversation(
                provider=config.default_provider, model=config.default_model))
            one.tools = host
            start = time.perf_counter()
            await one.send("hi")
            t_plain = time.perf_counter() - start
            server.script("chat/completions", [
                tool_call_reply([("c1", tool.name, '{"timezone": "UTC"}')]),
                sse_reply(["ok"])])
            two = session_factory(store, config, Conversation(
                provider=config.default_provider, model=config.default_model))
            two.tools = host
            start = time.perf_counter()
            await two.send("hi")
            t_round = time.perf_counter() - start
            await one.aclose()
            await two.aclose()
            if attempt:
                plain.append(t_plain)
                rounds.append(t_round - t_plain)
        print(f"tool round through McpHost + mcp-server-time (whole, incl. the server): "
              f"{statistics.median(rounds) * 1000:7.1f} ms (median of {runs})")
    finally:
        host.close()
        shutil.rmtree(log_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--tool-time", type=float, default=0.05)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="chatterm-bench-tools-"))
    try:
        isolate(root)
        asyncio.run(run(args.runs, args.tool_time))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
