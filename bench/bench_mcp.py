"""MCP host benchmark: what the host adds to a tool call, its start, its memory.

Run: python bench/bench_mcp.py [--calls 50] [--starts 5]   (from the repo root)

Real processes throughout: the reference mcp-server-time and tests/mcp_servers/toolkit.py
(the SDK's MCPServer) over stdio.
  - call: one `echo` call (a tool that does nothing) through McpHost.call from the
    caller's loop, against the same call made with the SDK's Client directly on one loop
    (the same transport, chatterm.mcp.stdio, to a second toolkit process; no host),
    interleaved. The difference is the host's own part (the hop to its thread and back,
    the result made text); the direct call is the server's and the pipe's. Medians of
    --calls, after a warm-up call each.
  - ready: a fresh process imports chatterm.mcp.host, makes an McpHost of 3 servers (time
    and two toolkits), start() and wait_ready(); the seconds from start() to ready
    (the SDK's import included: it happens on the host thread), median of --starts.
    start() itself returning is timed too (it must not wait for anything).
  - memory: in that process, once ready, its own RSS (VmRSS) and the three server
    processes' RSS (they are separate programs), summed.
The whole-round target (<= 50 ms beyond the tool's time, bench/bench_tool_round.py) is
the engine's; the host's part of it is the `call` row's difference.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


async def call_times(calls: int, log_dir: Path) -> tuple[list[float], list[float]]:
    """Interleaved: a call through the host, then the same call on a Client of our own
    on this loop (the same transport, chatterm.mcp.stdio, to a second toolkit process)."""
    from mcp import Client
    from mcp_helpers import TOOLKIT, running_host, spec_of, toolkit_server

    from chatterm.mcp.env import server_environment
    from chatterm.mcp.stdio import ProcessEnd, stdio_transport

    host_times: list[float] = []
    direct_times: list[float] = []
    transport = stdio_transport(sys.executable, [str(TOOLKIT)], env=server_environment(()),
                                cwd=None, errlog=subprocess.DEVNULL, end=ProcessEnd())
    async with running_host([toolkit_server("kit")], log_dir) as host, \
            Client(transport, cache=None) as client:
        echo = spec_of(host, "kit", "echo")
        await host.call(echo, {"text": "warm-up"})
        await client.call_tool("echo", {"text": "warm-up"})
        for _ in range(calls):
            started = time.perf_counter()
            await host.call(echo, {"text": "x"})
            host_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            await client.call_tool("echo", {"text": "x"})
            direct_times.append(time.perf_counter() - started)
    return host_times, direct_times


READY_PROBE = r"""
import asyncio, json, os, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[1] + "/tests")
from mcp_helpers import time_server, toolkit_server
from chatterm.mcp.config import McpConfig
from chatterm.mcp.host import McpHost

def rss_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0

config = McpConfig(servers=(time_server("time"), toolkit_server("kit1"), toolkit_server("kit2")))
host = McpHost(config, log_dir=Path(sys.argv[2]))
started = time.perf_counter()
host.start()
returned = time.perf_counter() - started
ok = asyncio.run(host.wait_ready(120))
ready = time.perf_counter() - started
states = [s.state.value for s in host.statuses()]
own = rss_kb(os.getpid())
servers = sum(rss_kb(c.end.pid) for c in host._connections.values() if c.end.pid)
host.close()
print(json.dumps({"returned": returned, "ready": ready, "ok": ok, "states": states,
                  "own_kb": own, "servers_kb": servers}))
"""


def ready_runs(starts: int, log_dir: Path) -> list[dict[str, object]]:
    runs = []
    for _ in range(starts):
        done = subprocess.run([sys.executable, "-c", READY_PROBE, str(REPO), str(log_dir)],
                              capture_output=True, text=True, timeout=300, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args()
    log_dir = Path(tempfile.mkdtemp(prefix="bench-mcp-"))
    host_times, direct_times = asyncio.run(call_times(args.calls, log_dir))
    host_ms = statistics.median(host_times) * 1000
    direct_ms = statistics.median(direct_times) * 1000
    print(f"call (echo, median of {args.calls}): through McpHost {host_ms:.2f} ms, "
          f"SDK Client direct {direct_ms:.2f} ms, the host's own part "
          f"{host_ms - direct_ms:.2f} ms")
    runs = ready_runs(args.starts, log_dir)
    bad = [run for run in runs if not run["ok"] or set(run["states"]) != {"ready"}]  # type: ignore[arg-type]
    if bad:
        print(f"warning: {len(bad)} start(s) did not get every server ready: {bad}")
    ready = statistics.median(float(run["ready"]) for run in runs)  # type: ignore[arg-type]
    returned = statistics.median(float(run["returned"]) for run in runs)  # type: ignore[arg-type]
    own = statistics.median(int(run["own_kb"]) for run in runs) / 1024  # type: ignore[call-overload]
    servers = statistics.median(int(run["servers_kb"]) for run in runs) / 1024  # type: ignore[call-overload]
    print(f"ready (3 servers: time + 2 toolkits, median of {args.starts}): start() returned in "
          f"{returned * 1000:.2f} ms, every server ready {ready:.2f} s after it")
    print(f"memory (3 servers ready): the process holding the host {own:.0f} MB RSS, "
          f"the 3 server processes {servers:.0f} MB RSS together")


if __name__ == "__main__":
    main()
