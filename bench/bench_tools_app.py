"""The app's launch with three MCP servers configured, against none (issue 13's figures).

Run:  python bench/bench_tools_app.py [--rounds 15]

The real `python -m chatterm` in a pseudo-terminal (bench_tui's Terminal, 120x40), with
two configs that differ only in `[mcp.servers.*]`: none, or three stdio servers (two
`mcp-server-time`, one tests/mcp_servers/toolkit.py). Launches alternate between the two
configs round by round, so both meet the same moments of a noisy host.

  launch    process start until the prompt and the status line are drawn (target: the
            three-server median within 0.02 s of the no-server one: servers start in the
            background, and the SDK is imported only after the first frame)
  peak RSS  the app's VmHWM once its servers are up (three children running and the app
            idle for a second), next to the same moment without servers; and the
            servers' own resident memory
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_tui import REPO, Bench, Terminal

TIME_SERVER = str(Path(sys.executable).parent / "mcp-server-time")
TOOLKIT = str(REPO / "tests" / "mcp_servers" / "toolkit.py")
SERVERS = (
    f'\n[mcp.servers.clock]\ncommand = "{TIME_SERVER}"\nargs = ["--local-timezone", "UTC"]\n'
    f'\n[mcp.servers.paris]\ncommand = "{TIME_SERVER}"\n'
    'args = ["--local-timezone", "Europe/Paris"]\n'
    f'\n[mcp.servers.toolkit]\ncommand = "{sys.executable}"\nargs = ["{TOOLKIT}"]\n'
)


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(child) for child in text]
    return found


def rss_mb(pid: int, field: str = "VmRSS:") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return 0.0


def settled(terminal: Terminal, servers: int, timeout: float = 90.0) -> list[int]:
    """Wait until `servers` children run and the app's CPU time stood still for 1 s."""
    deadline = time.monotonic() + timeout
    last, still_since = terminal.cpu_seconds(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = terminal.cpu_seconds()
        if now != last:
            last, still_since = now, time.monotonic()
        kids = children(terminal.pid)
        if len(kids) >= servers and time.monotonic() - still_since >= 1.0:
            return kids
    raise TimeoutError("the app never settled with its servers")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp))
        config = Path(bench.env["CHATTERM_CONFIG"])
        plain = config.read_text()
        launches: dict[str, list[float]] = {"none": [], "three": []}
        try:
            for side in ("none", "three"):  # a warm-up launch of each
                config.write_text(plain + (SERVERS if side == "three" else ""))
                terminal, _ = bench.launch()
                terminal.close()
            for round_ in range(args.rounds):
                order = ("none", "three") if round_ % 2 == 0 else ("three", "none")
                for side in order:
                    config.write_text(plain + (SERVERS if side == "three" else ""))
                    terminal, took = bench.launch()
                    launches[side].append(took)
                    terminal.close()
            memory: dict[str, float] = {}
            servers_mb: list[float] = []
            for side, count in (("none", 0), ("three", 3)):
                config.write_text(plain + (SERVERS if side == "three" else ""))
                terminal, _ = bench.launch()
                kids = settled(terminal, count)
                memory[side] = terminal.peak_rss_mb()
                servers_mb = [rss_mb(kid) for kid in kids] if count else servers_mb
                terminal.close()
        finally:
            bench.close()
    none, three = (statistics.median(launches[s]) for s in ("none", "three"))
    print(f"launch, median of {args.rounds} interleaved rounds:")
    print(f"  no servers     {none:.3f} s   (spread {min(launches['none']):.3f}-"
          f"{max(launches['none']):.3f})")
    print(f"  three servers  {three:.3f} s   (spread {min(launches['three']):.3f}-"
          f"{max(launches['three']):.3f})")
    verdict = "ok" if three - none <= 0.02 else "MISSED"
    print(f"  difference     {three - none:+.3f} s   target <= +0.020 s  {verdict}")
    print(f"peak RSS of the app once settled: {memory['three']:.1f} MB with three servers, "
          f"{memory['none']:.1f} MB with none")
    print("the servers' own RSS: " + ", ".join(f"{mb:.1f} MB" for mb in servers_mb))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
