"""`chatterm usage` as a person runs it: replies through the loopback server, then the sums."""

from __future__ import annotations

import json

import pytest
from chatterm_env import run_cli, write_config
from loopback import LoopbackServer, sse_reply


def _usage(prompt: int, completion: int, cost: float | None = None) -> dict[str, object]:
    usage: dict[str, object] = {"prompt_tokens": prompt, "completion_tokens": completion,
                                "total_tokens": prompt + completion}
    if cost is not None:
        usage["cost"] = cost
    return usage


def _ask(*args: str) -> None:
    result = run_cli("ask", *args)
    assert result.returncode == 0, result.stderr


@pytest.mark.e2e
def test_usage_sums_what_the_replies_reported(loopback: LoopbackServer) -> None:
    # A second provider on the same server, so the replies have two providers.
    write_config(loopback.url, extra=f'[providers.other]\nbase_url = "{loopback.url}"\n'
                 'kind = "openai"\n')
    loopback.script("chat/completions", [
        sse_reply(["one"], usage=_usage(100, 20, 0.0015)),
        sse_reply(["two"], usage=_usage(300, 40, 0.0025)),
        sse_reply(["three"], usage=_usage(1000, 7)),  # this provider reports no cost
    ])
    _ask("first")
    _ask("-c", "second")
    _ask("--provider", "other", "-m", "big-model", "third")

    result = run_cli("usage", "--json", "--by", "model")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["by"] == "model" and report["since"] is None
    assert [(g["model"], g["replies"], g["prompt_tokens"], g["completion_tokens"])
            for g in report["groups"]] == [("big-model", 1, 1000, 7),
                                           ("test-model", 2, 400, 60)]
    assert report["groups"][0]["cost"] is None
    assert report["groups"][1]["cost"] == pytest.approx(0.004)
    total = report["total"]
    assert (total["replies"], total["prompt_tokens"], total["completion_tokens"],
            total["tokens"], total["costed_replies"]) == (3, 1400, 67, 1467, 2)
    assert total["cost"] == pytest.approx(0.004)

    providers = json.loads(run_cli("usage", "--json", "--by", "provider").stdout)
    assert {g["provider"]: g["replies"] for g in providers["groups"]} == {"test": 2,
                                                                          "other": 1}

    # The table: a line per day (all three replies were today), and the totals.
    table = run_cli("usage", "--since", "7d")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.decode().splitlines()
    assert lines[0].split() == ["day", "replies", "prompt", "completion", "tokens", "cost"]
    assert len(lines) == 4 and set(lines[2]) == {"-"}
    assert lines[1].split()[1:] == ["3", "1,400", "67", "1,467", "0.0040"]
    assert lines[3].split() == ["total", "3", "1,400", "67", "1,467", "0.0040"]
    assert table.stderr.decode() == ("cost: reported for 2 of 3 replies "
                                     "(the others' providers report none)\n")


@pytest.mark.e2e
def test_usage_since_a_date_to_come_and_a_bad_since(loopback: LoopbackServer) -> None:
    write_config(loopback.url)
    loopback.script("chat/completions", sse_reply(["hi"], usage=_usage(5, 1, 0.5)))
    _ask("hello")
    later = run_cli("usage", "--since", "2999-01-01", "--json")
    assert later.returncode == 0, later.stderr
    assert json.loads(later.stdout)["groups"] == []
    assert run_cli("usage", "--since", "2999-01-01").stdout == b"no replies since 2999-01-01\n"
    for bad in ("7x", "yesterday", "0d", "2026-13-45"):
        result = run_cli("usage", "--since", bad)
        assert result.returncode == 2, (bad, result.stderr)
        assert result.stdout == b""
        assert len(result.stderr.decode().splitlines()) == 1, result.stderr
        assert b"--since" in result.stderr and b"Traceback" not in result.stderr
    # Nothing saved was touched: the reply is still counted.
    assert json.loads(run_cli("usage", "--json").stdout)["total"]["replies"] == 1
