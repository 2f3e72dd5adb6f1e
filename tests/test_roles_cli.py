"""Saved roles on the command line: `chatterm roles`, `ask --role NAME`.

Each test runs the real CLI in a subprocess against the loopback server.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from chatterm_env import run_cli, write_config
from loopback import LoopbackServer, sse_reply

pytestmark = pytest.mark.e2e

ROLES = """
[roles.reviewer]
description = "Reviews code"
system_prompt = "You review code, tersely."
model = "review-model"
[roles.reviewer.params]
temperature = 0.2
max_tokens = 300
stop = ["END"]
"""


def _roles_dir() -> Path:
    folder = Path(os.environ["CHATTERM_CONFIG"]).parent / "roles"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _body(loopback: LoopbackServer) -> dict:
    return loopback.requests[-1].json


def test_ask_role_sends_the_role_s_system_prompt_model_and_params(loopback) -> None:
    write_config(loopback.url, extra=ROLES)
    loopback.script("chat/completions", sse_reply(["ok"]))
    result = run_cli("ask", "--role", "reviewer", "Look", "at", "this")
    assert result.returncode == 0, result.stderr
    body = _body(loopback)
    assert body["model"] == "review-model"
    assert body["messages"][0] == {"role": "system", "content": "You review code, tersely."}
    assert body["temperature"] == 0.2 and body["max_tokens"] == 300
    assert body["stop"] == ["END"]
    listed = json.loads(run_cli("list", "--json").stdout)
    assert len(listed) == 1
    # The chat keeps the role it was started from (schema 5: conversations.role).
    shown = json.loads(run_cli("show", "--json", listed[0]["id"]).stdout)
    assert shown["role"] == "reviewer"


def test_the_command_line_wins_over_the_role(loopback) -> None:
    write_config(loopback.url, extra=ROLES)
    loopback.script("chat/completions", sse_reply(["ok"]))
    result = run_cli("ask", "--no-save", "--role", "reviewer", "-m", "other",
                     "--temperature", "1.5", "--system", "Be kind.", "hi")
    assert result.returncode == 0, result.stderr
    body = _body(loopback)
    assert body["model"] == "other" and body["temperature"] == 1.5
    assert body["messages"][0]["content"] == "Be kind."
    assert body["max_tokens"] == 300  # what the command line left alone stays the role's


def test_a_role_file_in_the_roles_folder(loopback) -> None:
    write_config(loopback.url)
    (_roles_dir() / "french.toml").write_text(
        'description = "French"\nsystem_prompt = "Translate to French."\n'
        "[params]\nseed = 7\n", encoding="utf-8")
    loopback.script("chat/completions", sse_reply(["Bonjour"]))
    result = run_cli("ask", "--no-save", "--role", "french", "Hello")
    assert result.returncode == 0, result.stderr
    body = _body(loopback)
    assert body["messages"][0]["content"] == "Translate to French."
    assert body["model"] == "test-model" and body["seed"] == 7


def test_roles_json_lists_both_kinds_and_the_config_wins_a_clash(loopback) -> None:
    config = write_config(loopback.url, extra=ROLES)
    folder = _roles_dir()
    (folder / "french.toml").write_text('system_prompt = "Translate."\n', encoding="utf-8")
    (folder / "reviewer.toml").write_text('system_prompt = "shadowed"\n', encoding="utf-8")
    result = run_cli("roles", "--json")
    assert result.returncode == 0, result.stderr
    roles = {role["name"]: role for role in json.loads(result.stdout)}
    assert sorted(roles) == ["french", "reviewer"]
    assert roles["reviewer"]["system_prompt"] == "You review code, tersely."
    assert roles["reviewer"]["source"] == f"{config} [roles.reviewer]"
    assert roles["reviewer"]["params"] == {"temperature": 0.2, "max_tokens": 300,
                                           "stop": ["END"]}
    assert roles["french"]["source"] == str(folder / "french.toml")
    assert b"reviewer.toml: not used" in result.stderr
    text = run_cli("roles")
    assert b"reviewer  Reviews code  [review-model]" in text.stdout


def test_a_bad_role_is_one_line_and_the_others_still_load(loopback) -> None:
    write_config(loopback.url, extra=ROLES + '[roles.numb]\nsystem_prompt = 3\n')
    folder = _roles_dir()
    (folder / "hot.toml").write_text('system_prompt = "x"\n[params]\ntemperature = 9\n')
    (folder / "broken.toml").write_text("oops = = \n")
    (folder / "binary.toml").write_bytes(b"\xff\xfe\x00")
    (folder / "ok.toml").write_text('system_prompt = "fine"\n')
    result = run_cli("roles", "--json")
    assert result.returncode == 0, result.stderr
    assert sorted(role["name"] for role in json.loads(result.stdout)) == ["ok", "reviewer"]
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 4 and b"Traceback" not in result.stderr
    assert any("roles.numb.system_prompt must be a string" in line for line in lines)
    assert any("hot.toml: params.temperature must be a number" in line for line in lines)
    assert any("broken.toml: invalid TOML: line 1" in line for line in lines)
    assert any("binary.toml" in line and "UTF-8" in line for line in lines)
    used = run_cli("ask", "--no-save", "--role", "hot", "hi")
    assert used.returncode == 2 and not loopback.requests
    assert used.stderr.decode().count("\n") == 1
    assert b"role 'hot' cannot be used" in used.stderr


def test_an_unknown_role_is_one_line_with_close_matches(loopback) -> None:
    write_config(loopback.url, extra=ROLES)
    result = run_cli("ask", "--role", "revewer", "hi")
    assert result.returncode == 2
    assert result.stderr.decode().strip() == (
        "chatterm: error: unknown role 'revewer' (did you mean reviewer?)")
    assert not loopback.requests


def test_role_with_continue_is_refused(loopback) -> None:
    write_config(loopback.url, extra=ROLES)
    result = run_cli("ask", "-c", "--role", "reviewer", "hi")
    assert result.returncode == 2
    assert b"--role starts a new conversation" in result.stderr
    assert not loopback.requests
