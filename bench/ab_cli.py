"""A/B of bench_cli.py's figures: this checkout against another, sample by sample.

    python bench/ab_cli.py OTHER_CHECKOUT [--runs 7]

Whole `chatterm` processes, as bench_cli.py times them, with each build's code on
PYTHONPATH and a data directory of its own, filled by that build's own
bench_cli.populate (so with its own schema). Every round times each command once for each
build, the build going first alternating, next to a bare httpx.AsyncClient streaming
request of the same loopback reply; the table is the medians, and the `ask` overheads are
the median `ask` minus the median bare request.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "bench"), str(REPO / "tests")]

from bench_cli import RAW_HTTPX  # noqa: E402
from loopback import LoopbackServer, sse_reply  # noqa: E402

POPULATE = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from bench_cli import populate
populate(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), seed=int(sys.argv[5]))
"""


def once(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(cmd, env=env, capture_output=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{cmd} failed: {result.stderr.decode()[-500:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    builds = {"this": REPO, "other": args.other.resolve()}
    chatterm = [sys.executable, "-m", "chatterm"]
    work = Path(tempfile.mkdtemp(prefix="chatterm-ab-cli-"))
    with LoopbackServer() as server:
        server.always("chat/completions", sse_reply(["token "] * 50))
        envs: dict[str, dict[str, str]] = {}
        for name, repo in builds.items():
            home = work / name
            home.mkdir()
            (home / "config.toml").write_text(
                'default_provider = "local"\ndefault_model = "m"\n'
                f'[providers.local]\nbase_url = "{server.url}"\n')
            env = dict(os.environ, PYTHONPATH=str(repo), CHATTERM_CONFIG=str(home / "config.toml"),
                       CHATTERM_DATA_DIR=str(home / "data"), CHATTERM_CACHE_DIR=str(home / "cache"))
            for folder, count, each, seed in (("list-data", 10_000, 2, 1),
                                              ("search-data", 2_000, 100, 2)):
                subprocess.run([sys.executable, "-c", POPULATE, str(repo / "bench"),
                                str(home / folder), str(count), str(each), str(seed)],
                               env=env, check=True)
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(repo / "chatterm")],
                           check=True, stdout=subprocess.DEVNULL)
            envs[name] = env
        commands = {
            "bare httpx request": ([sys.executable, "-c", RAW_HTTPX, server.url], None),
            "--help": ([*chatterm, "--help"], None),
            "ask --no-save": ([*chatterm, "ask", "--no-save", "hi"], None),
            "ask (saved)": ([*chatterm, "ask", "hi"], None),
            "list (10,000)": ([*chatterm, "list"], "list-data"),
            "search, 1 term": ([*chatterm, "search", "foxtrot"], "search-data"),
            "search, 2 terms": ([*chatterm, "search", "sqlite", "terminal"], "search-data"),
        }
        samples = {name: {key: [] for key in commands} for name in builds}
        for name in builds:  # warm-up
            for cmd, folder in commands.values():
                env = envs[name] if folder is None else dict(
                    envs[name], CHATTERM_DATA_DIR=str(work / name / folder))
                once(cmd, env)
        for run in range(args.runs):
            order = list(builds) if run % 2 == 0 else list(reversed(builds))
            for key, (cmd, folder) in commands.items():
                for name in order:
                    env = envs[name] if folder is None else dict(
                        envs[name], CHATTERM_DATA_DIR=str(work / name / folder))
                    samples[name][key].append(once(cmd, env))
            print(f"round {run + 1} done", flush=True)
    print(f"\nmedians of {args.runs} interleaved rounds, ms; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'measurement':30} {'this':>8} {'other':>8}")
    medians = {name: {key: statistics.median(values) * 1000 for key, values in rows.items()}
               for name, rows in samples.items()}
    for key in commands:
        print(f"{key:30} {medians['this'][key]:8.1f} {medians['other'][key]:8.1f}")
    for key in ("ask --no-save", "ask (saved)"):
        print(f"{key + ' overhead':30} "
              + " ".join(f"{medians[name][key] - medians[name]['bare httpx request']:8.1f}"
                         for name in builds))
    print(f"this = {REPO}, other = {builds['other']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
