"""The `chatterm` CLI, run as a real subprocess against the loopback server."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from chatterm_env import REPO_ROOT, run_cli, write_config
from loopback import Drop, LoopbackServer, json_reply, sse_chunks, sse_reply, stream_reply

SUBCOMMANDS = ["ask", "tools", "list", "show", "branch", "fork", "search", "export", "import",
               "delete", "rename", "models", "config", "usage"]


@pytest.mark.e2e
def test_version_and_help_for_every_subcommand() -> None:
    version = run_cli("--version")
    assert version.returncode == 0
    assert version.stdout.decode().startswith("chatterm 0.")
    for command in [None, *SUBCOMMANDS]:
        args = ["--help"] if command is None else [command, "--help"]
        result = run_cli(*args)
        assert result.returncode == 0, (command, result.stderr)
        assert b"usage: chatterm" in result.stdout


@pytest.mark.e2e
def test_ask_streams_reply_to_stdout_and_saves(loopback: LoopbackServer) -> None:
    write_config(loopback.url)
    loopback.script("chat/completions", sse_reply(["Hello", " from", " loopback"]))
    result = run_cli("ask", "Say", "hello")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"Hello from loopback\n"
    assert result.stderr == b""
    assert loopback.requests[0].json["messages"] == [{"role": "user", "content": "Say hello"}]

    listing = json.loads(run_cli("list", "--json").stdout)
    assert len(listing) == 1
    assert listing[0]["title"] == "Say hello"
    shown = json.loads(run_cli("show", listing[0]["id"][:6], "--json").stdout)
    assert shown["format"] == "chatterm"
    assert [m["role"] for m in shown["messages"]] == ["user", "assistant"]
    assert shown["messages"][1]["content"] == "Hello from loopback"
    assert shown["messages"][1]["model"] == "test-model"


@pytest.mark.e2e
def test_ask_reads_stdin_and_continues_conversation(loopback: LoopbackServer) -> None:
    write_config(loopback.url)
    loopback.script("chat/completions", [sse_reply(["four"]), sse_reply(["eight"])])
    assert run_cli("ask", input=b"2+2?").returncode == 0
    result = run_cli("ask", "-c", "-", input=b"double it")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"eight\n"
    assert loopback.requests[1].json["messages"] == [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "four"},
        {"role": "user", "content": "double it"},
    ]
    assert len(json.loads(run_cli("list", "--json").stdout)) == 1


@pytest.mark.e2e
def test_ask_json_and_request_options(loopback: LoopbackServer) -> None:
    write_config(loopback.url)
    loopback.script("chat/completions", sse_reply(
        ["Hi"], usage={"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3}))
    result = run_cli("ask", "hi", "--json", "-m", "other", "--system", "be brief",
                     "--stop", "END", "--stop", "STOP", "--temperature", "0.2",
                     "--top-p", "0.9", "--max-tokens", "50", "--seed", "7")
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert {k: reply[k] for k in ("role", "content", "finish_reason", "model", "state")} == {
        "role": "assistant", "content": "Hi", "finish_reason": "stop", "model": "other",
        "state": "complete"}
    assert reply["usage"]["total_tokens"] == 3
    assert reply["tool_calls"] == [] and reply["refusal"] == "" and reply["reasoning"] == ""
    body = loopback.requests[0].json
    assert body["messages"][0] == {"role": "system", "content": "be brief"}
    assert (body["model"], body["stop"], body["temperature"], body["top_p"],
            body["max_tokens"], body["seed"]) == ("other", ["END", "STOP"], 0.2, 0.9, 50, 7)


@pytest.mark.e2e
def test_ask_names_the_tools_a_reply_asks_for(loopback: LoopbackServer) -> None:
    """A reply that is only tool calls printed nothing at all (the walkthrough's find)."""
    from loopback import SSE_HEADERS, Reply, sse_event

    def chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
        return sse_event({"id": "c", "object": "chat.completion.chunk", "model": "m",
                          "choices": [{"index": 0, "delta": delta,
                                       "finish_reason": finish}]})

    call = {"index": 0, "id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    write_config(loopback.url)
    loopback.script("chat/completions", Reply(200, SSE_HEADERS, [
        chunk({"role": "assistant", "tool_calls": [call]}),
        chunk({}, "tool_calls"), b"data: [DONE]\n\n"]))
    result = run_cli("ask", "weather in Paris?")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == b""
    [line] = result.stderr.decode().strip().splitlines()
    assert 'get_weather({"city": "Paris"})' in line and "no MCP server is configured" in line


@pytest.mark.e2e
def test_ask_no_save_and_no_stream(loopback: LoopbackServer) -> None:
    write_config(loopback.url)
    loopback.script("chat/completions", json_reply({
        "id": "x", "object": "chat.completion", "model": "test-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "whole"},
                     "finish_reason": "stop"}]}))
    result = run_cli("ask", "hi", "--no-save", "--no-stream")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"whole\n"
    assert loopback.requests[0].json["stream"] is False
    assert json.loads(run_cli("list", "--json").stdout) == []


@pytest.mark.e2e
def test_failed_request_is_one_line_exit_1(loopback: LoopbackServer) -> None:
    write_config(loopback.url)
    loopback.script("chat/completions", json_reply(
        {"message": "You have run out of credits", "statusCode": 403}, status=403))
    result = run_cli("ask", "hi")
    assert result.returncode == 1
    assert result.stdout == b""
    err = result.stderr.decode()
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "credits" in err.lower()


@pytest.mark.e2e
def test_drop_mid_stream_keeps_partial_exit_1(loopback: LoopbackServer) -> None:
    write_config(loopback.url)
    first = sse_chunks(["partial answer"], done=False, finish_reason=None)[0]
    loopback.script("chat/completions", stream_reply([first, Drop()]))
    result = run_cli("ask", "hi")
    assert result.returncode == 1
    assert result.stdout.startswith(b"partial answer")
    assert b"interrupted" in result.stderr
    shown = json.loads(run_cli("show", json.loads(run_cli("list", "--json").stdout)[0]["id"],
                               "--json").stdout)
    assert shown["messages"][1]["state"] == "interrupted"
    assert shown["messages"][1]["content"] == "partial answer"


@pytest.mark.e2e
def test_usage_errors_exit_2(loopback: LoopbackServer) -> None:
    write_config(loopback.url)
    bad_number = run_cli("ask", "hi", "--temperature", "warm")
    assert bad_number.returncode == 2 and b"not a number" in bad_number.stderr
    unknown = run_cli("ask", "hi", "--provider", "mistrall")
    assert unknown.returncode == 2
    assert b"mistral" in unknown.stderr and b"Traceback" not in unknown.stderr
    no_prompt = run_cli("ask")  # empty stdin
    assert no_prompt.returncode == 2
    missing = run_cli("show", "doesnotexist")
    assert missing.returncode == 2 and b"doesnotexist" in missing.stderr
    assert loopback.requests == []


@pytest.mark.e2e
def test_missing_key_names_the_variable(loopback: LoopbackServer) -> None:
    write_config(loopback.url, api_key_env="CHATTERM_TEST_KEY")
    result = run_cli("ask", "hi")
    assert result.returncode != 0
    assert b"CHATTERM_TEST_KEY" in result.stderr
    assert result.stderr.count(b"\n") == 1


@pytest.mark.e2e
def test_unknown_model_shows_close_catalog_matches(loopback: LoopbackServer) -> None:
    write_config(loopback.url, provider="aimlapi", model="gpt-4o-mino")
    loopback.script("chat/completions", json_reply(
        {"error": {"message": "The model `gpt-4o-mino` does not exist",
                   "type": "invalid_request_error", "code": "model_not_found"}}, status=404))
    result = run_cli("ask", "hi", env={"AIMLAPI_API_KEY": "test-key"})
    assert result.returncode == 1
    err = result.stderr.decode()
    assert "does not exist" in err and "gpt-4o-mini" in err
    # The unknown id was still sent: providers add models faster than catalogs.
    assert loopback.requests[0].json["model"] == "gpt-4o-mino"


@pytest.mark.e2e
def test_prefix_needs_a_mistral_provider(loopback: LoopbackServer) -> None:
    write_config(loopback.url)
    result = run_cli("ask", "hi", "--prefix", "Sure:")
    assert result.returncode == 2 and b"prefix" in result.stderr
    assert loopback.requests == []


@pytest.mark.e2e
def test_prefix_and_safe_prompt_for_mistral(loopback: LoopbackServer) -> None:
    write_config(loopback.url, kind="mistral")
    loopback.script("chat/completions", sse_reply(["Arr,", " matey"]))
    result = run_cli("ask", "greet", "--prefix", "Arr,", "--safe-prompt", "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"Arr, matey\n"
    body = loopback.requests[0].json
    assert body["messages"][-1] == {"role": "assistant", "content": "Arr,", "prefix": True}
    assert body["safe_prompt"] is True and body["random_seed"] == 3 and "seed" not in body


@pytest.mark.e2e
def test_hostile_text_is_neutralised_on_a_terminal(loopback: LoopbackServer) -> None:
    write_config(loopback.url)
    hostile = ["\x1b]52;c;cHduZWQ=\x07", "\x1b[2J", "\x1b]0;title\x07",
               "\x1b]8;;file:///etc/passwd\x1b\\link\x1b]8;;\x1b\\", "\x9b1m", "ok"]
    loopback.script("chat/completions", sse_reply(hostile))
    main_fd, child_fd = pty.openpty()
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.run([sys.executable, "-m", "chatterm", "ask", "hi"], stdout=child_fd,
                          stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env,
                          timeout=60, cwd=REPO_ROOT)
    os.close(child_fd)
    output = b""
    while True:
        try:
            chunk = os.read(main_fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    os.close(main_fd)
    assert proc.returncode == 0, proc.stderr
    text = output.decode("utf-8", "replace")
    assert "\x1b" not in text and "\x9b" not in text and "\x07" not in text
    assert "ok" in text and "file:///etc/passwd" in text  # visible, but inert
    # Piped output is the model's text byte for byte: scripts get what was sent.
    loopback.script("chat/completions", sse_reply(hostile))
    piped = run_cli("ask", "again")
    assert piped.stdout.decode() == "".join(hostile) + "\n"


@pytest.mark.e2e
def test_crlf_and_lone_cr_are_line_breaks_on_a_terminal(loopback: LoopbackServer) -> None:
    write_config(loopback.url)
    # The CRLF after "two" is split between two deltas.
    loopback.script("chat/completions", sse_reply(["one\r\ntwo\r", "\nthree\rfour"]))
    main_fd, child_fd = pty.openpty()
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.run([sys.executable, "-m", "chatterm", "ask", "hi"], stdout=child_fd,
                          stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env,
                          timeout=60, cwd=REPO_ROOT)
    os.close(child_fd)
    output = b""
    while True:
        try:
            chunk = os.read(main_fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    os.close(main_fd)
    assert proc.returncode == 0, proc.stderr
    # The terminal shows each \n as CR LF: one line break per line end, no symbols.
    assert output.decode() == "one\r\ntwo\r\nthree\r\nfour\r\n"


@pytest.mark.e2e
def test_export_import_round_trip(loopback: LoopbackServer, tmp_path: Path) -> None:
    write_config(loopback.url)
    loopback.script("chat/completions", sse_reply(["# Title\n\n```py\nprint(1)\n```"]))
    run_cli("ask", "code please")
    conv_id = json.loads(run_cli("list", "--json").stdout)[0]["id"]
    exported = tmp_path / "out.json"
    assert run_cli("export", conv_id, "--format", "json", "-o", str(exported)).returncode == 0
    assert exported.stat().st_mode & 0o777 == 0o600
    markdown = run_cli("export", conv_id).stdout.decode()
    assert "code please" in markdown and "print(1)" in markdown

    other = {"CHATTERM_DATA_DIR": str(tmp_path / "other-data")}
    imported = run_cli("import", str(exported), env=other)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.decode().strip() == conv_id
    again = run_cli("show", conv_id, "--json", env=other).stdout
    assert json.loads(again) == json.loads(exported.read_text())

    broken = tmp_path / "broken.json"
    broken.write_bytes(b'{"format": "chatterm", "messages": [\xff')
    failed = run_cli("import", str(broken), env=other)
    assert failed.returncode != 0 and b"Traceback" not in failed.stderr
    assert failed.stderr.count(b"\n") == 1
    assert len(json.loads(run_cli("list", "--json", env=other).stdout)) == 1


@pytest.mark.e2e
def test_search_rename_delete(loopback: LoopbackServer) -> None:
    write_config(loopback.url)
    loopback.script("chat/completions", [sse_reply(["Bananas are yellow."]),
                                         sse_reply(["Cherries are red."])])
    run_cli("ask", "fruit one")
    run_cli("ask", "fruit two")
    hits = json.loads(run_cli("search", "bananas", "--json").stdout)
    assert len(hits) == 1 and "Bananas" in hits[0]["snippet"]
    plain = run_cli("search", "cherries").stdout.decode()
    assert "[Cherries]" in plain

    conv_id = hits[0]["conversation_id"]
    assert run_cli("rename", conv_id[:8], "Yellow", "fruit").returncode == 0
    titles = {c["title"] for c in json.loads(run_cli("list", "--json").stdout)}
    assert "Yellow fruit" in titles

    refused = run_cli("delete", conv_id)
    assert refused.returncode == 2 and b"--yes" in refused.stderr
    assert run_cli("delete", conv_id, "--yes").returncode == 0
    remaining = json.loads(run_cli("list", "--json").stdout)
    assert [c["title"] for c in remaining] == ["fruit two"]


@pytest.mark.e2e
def test_models_lists_catalog_and_merges_live(loopback: LoopbackServer) -> None:
    write_config(loopback.url, provider="aimlapi", model="gpt-4o")
    catalog = json.loads(run_cli("models", "--json").stdout)
    ids = {m["id"] for m in catalog}
    assert "gpt-4o" in ids and "meta-llama/LlamaGuard-2-8b" in ids
    assert {"id", "vendor", "provider", "source", "kind"} <= set(catalog[0])
    text = run_cli("models").stdout.decode()
    assert "OpenAI:" in text and "  gpt-4o" in text

    loopback.script("models", json_reply({"data": [
        {"id": "gpt-4o", "type": "chat-completion"},
        {"id": "brand-new-chat", "type": "chat-completion",
         "info": {"developer": "Acme", "contextLength": 32000}},
        {"id": "flux/schnell", "type": "image"},
    ]}))
    live = {m["id"]: m for m in json.loads(run_cli("models", "--refresh", "--json").stdout)}
    assert live["gpt-4o"]["source"] == "both"
    assert live["brand-new-chat"]["source"] == "live"
    assert "flux/schnell" not in live
    assert live["gpt-4"]["missing_live"] is True


@pytest.mark.e2e
def test_config_set_and_show_masks_keys(isolated_env: Path) -> None:
    assert run_cli("config", "set", "default_model", "gpt-4o").returncode == 0
    assert run_cli("config", "set", "providers.aimlapi.api_key", "sk-secret-1234567890abcd"
                   ).returncode == 0
    config_path = Path(run_cli("config", "path").stdout.decode().strip())
    assert config_path.stat().st_mode & 0o777 == 0o600
    shown = run_cli("config", "show").stdout.decode()
    assert 'default_model = "gpt-4o"' in shown
    assert "sk-secret-1234567890abcd" not in shown and "abcd" in shown
    bad = run_cli("config", "set", "stream", "maybe")
    assert bad.returncode == 2 and b"stream" in bad.stderr


@pytest.mark.e2e
def test_config_set_says_what_it_set_and_refuses_what_would_break(isolated_env: Path) -> None:
    config_path = Path(run_cli("config", "path").stdout.decode().strip())
    done = run_cli("config", "set", "params.temperature", "0.3")
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode() == f"set params.temperature = 0.3 in {config_path}\n"
    secret = run_cli("config", "set", "providers.aimlapi.api_key", "sk-hidden-1234567890")
    assert secret.stdout.decode().startswith("set providers.aimlapi.api_key = (hidden)")
    before = config_path.read_bytes()
    for key, value in (("default_provider", "nosuch"), ("params.temperature", "9"),
                       ("keys.bogus", "f1"), ("theme", "nosuch-theme")):
        refused = run_cli("config", "set", key, value)
        assert refused.returncode == 2, (key, refused.stderr)
        lines = refused.stderr.decode().strip().splitlines()
        assert len(lines) == 1 and key.split(".")[-1] in lines[0], lines
        assert refused.stdout == b""
    assert config_path.read_bytes() == before
    # ...so the commands after it still work.
    assert run_cli("config", "show").returncode == 0
    assert run_cli("list").returncode == 0


@pytest.mark.e2e
def test_broken_config_is_one_line(isolated_env: Path) -> None:
    path = Path(os.environ["CHATTERM_CONFIG"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('default_model = "x"\nstream = [oops\n')
    result = run_cli("ask", "hi")
    assert result.returncode == 2
    assert str(path).encode() in result.stderr and b"line 2" in result.stderr
    assert result.stderr.count(b"\n") == 1


@pytest.mark.e2e
@pytest.mark.parametrize("argv", [["--help"], ["ask", "hi"], ["list"], ["models"],
                                  ["ask", "-m", "a", "-m", "b", "hi"], ["tools"]])
def test_cli_never_imports_textual(loopback: LoopbackServer, argv: list[str]) -> None:
    """Nor the MCP SDK: no server is configured (tests/test_cli_tools.py: --no-tools)."""
    write_config(loopback.url)
    loopback.always("chat/completions", sse_reply(["fine"]))
    probe = (
        "import sys\n"
        "from chatterm.cli.main import main\n"
        "try:\n"
        f"    code = main({argv!r})\n"
        "except SystemExit as exit:\n"
        "    code = exit.code\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'mcp')\n"
        "                or m.startswith('chatterm.mcp.host'))\n"
        "sys.stderr.write('LOADED=' + ','.join(loaded) + '\\n')\n"
        "ui = [m for m in sys.modules if m.startswith('chatterm.ui')]\n"
        "sys.stderr.write('UI=' + ','.join(ui) + '\\n')\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, env=env,
                            timeout=60, cwd=REPO_ROOT)
    err = result.stderr.decode()
    assert "LOADED=\n" in err, err
    assert "UI=\n" in err, err


@pytest.mark.e2e
def test_help_does_not_load_httpx_or_sqlite() -> None:
    probe = (
        "import sys\n"
        "from chatterm.cli.main import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('httpx', 'sqlite3', 'textual', 'rich')\n"
        "print('HEAVY=' + ','.join(m for m in heavy if m in sys.modules))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, env=env,
                            timeout=60, cwd=REPO_ROOT)
    assert result.stdout.decode().splitlines()[-1] == "HEAVY="



def test_config_write_failure_is_a_config_error(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk (or any OSError) while saving the config is one clear line, not a crash."""
    import errno

    from chatterm import locations, safe_write
    from chatterm.config import set_config_value
    from chatterm.errors import ConfigError

    def no_space(*args: object, **kwargs: object) -> tuple[int, str]:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(safe_write, "open_temp", no_space)
    with pytest.raises(ConfigError, match=r"cannot write .*config\.toml: No space left on device"):
        set_config_value(locations.config_file(), "default_model", "x")
