"""A tool exchange the real engine saved, with the real MCP host running the reference
`mcp-server-time`, read back by `chatterm show`, `search` and `export`/`import` as real
subprocesses: what the store side shows is what the tool loop really writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from chatterm_env import run_cli
from loopback import LoopbackServer, sse_reply, tool_call_reply
from mcp_helpers import running_host, time_server
from tool_box import session_on

from chatterm.store import Store


def ok(result: object) -> str:
    assert result.returncode == 0, result.stderr  # type: ignore[attr-defined]
    return str(result.stdout.decode())  # type: ignore[attr-defined]


@pytest.mark.e2e
async def test_an_exchange_run_by_the_engine_is_shown_found_and_round_tripped(
        loopback: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loopback.script("chat/completions", [
        tool_call_reply([("call_tokyoAAAAAAAAAAAAAAAAAAAA", "get_current_time",
                          '{"timezone": "Asia/Tokyo"}'),
                         ("call_atlantisBBBBBBBBBBBBBBBBB", "get_current_time",
                          '{"timezone": "Nowhere/Atlantis"}')]),
        sse_reply(["Tokyo is ahead; Atlantis has no clock."])])
    async with running_host([time_server("time", approve="auto")], tmp_path / "logs") as host:
        with Store.open() as store:
            session = session_on(loopback, store, None)
            session.tools = host
            await session.send("What time is it in Tokyo, and in Atlantis?")
            conversation_id = session.conversation.id

    shown = ok(run_cli("show", conversation_id))
    assert '→ time.get_current_time {"timezone": "Asia/Tokyo"}\n  ← {\n' in shown
    assert '  ←   "timezone": "Asia/Tokyo",\n' in shown
    atlantis = shown.split('→ time.get_current_time {"timezone": "Nowhere/Atlantis"}\n')[1]
    # The outcome, then the server's own words (its error line is not said twice).
    assert atlantis.startswith("  ← (error)\n  ← Error executing tool get_current_time: ")
    assert "Nowhere/Atlantis" in atlantis.splitlines()[1]
    assert "Tokyo is ahead; Atlantis has no clock." in shown

    hits = ok(run_cli("search", "--json", "Nowhere/Atlantis"))
    # The call (its arguments) and the server's answer (its text); the prompt does not say
    # "Nowhere".
    assert sorted(hit["role"] for hit in json.loads(hits)) == ["assistant", "tool"]

    exported = tmp_path / "exchange.json"
    ok(run_cli("export", conversation_id, "--format", "json", "-o", str(exported)))
    monkeypatch.setenv("CHATTERM_DATA_DIR", str(tmp_path / "elsewhere"))
    ok(run_cli("import", str(exported)))
    assert ok(run_cli("show", conversation_id, "--json")) == exported.read_text(encoding="utf-8")
