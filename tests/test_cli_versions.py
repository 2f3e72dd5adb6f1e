"""`ask --regenerate`, `ask --edit` and compare (`ask -m A -m B`), as real subprocesses
against the loopback server: what is sent, what is printed, what the tree holds after."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from chatterm_env import run_cli, write_config
from loopback import (
    Hold,
    LoopbackServer,
    Request,
    json_reply,
    sse_chunks,
    sse_reply,
    stream_reply,
)

CHAT = "chat/completions"


def ok(result: Any) -> str:
    assert result.returncode == 0, result.stderr
    return str(result.stdout.decode())


def usage_error(result: Any) -> str:
    err = str(result.stderr.decode())
    assert result.returncode == 2, (result.returncode, err)
    assert err.count("\n") <= 2 and "Traceback" not in err, err
    return err


def tree() -> dict[str, Any]:
    [summary] = json.loads(ok(run_cli("list", "--json")))
    data: dict[str, Any] = json.loads(ok(run_cli("show", summary["id"], "--json")))
    return data


def current_path(data: dict[str, Any]) -> list[dict[str, Any]]:
    by_id = {m["id"]: m for m in data["messages"]}
    path, mid = [], data["current_id"]
    while mid is not None:
        path.append(by_id[mid])
        mid = by_id[mid]["parent_id"]
    return path[::-1]


@pytest.mark.e2e
def test_regenerate_adds_a_version_of_the_last_reply(loopback: LoopbackServer) -> None:
    write_config(loopback.url)
    loopback.script(CHAT, [sse_reply(["one"]), sse_reply(["two"]),
                           sse_reply(["three"], model="other")])
    ok(run_cli("ask", "count"))
    assert ok(run_cli("ask", "-c", "--regenerate")) == "two\n"
    # The request is the history up to the prompt, not the old reply.
    assert loopback.requests[1].json["messages"] == [{"role": "user", "content": "count"}]
    data = tree()
    user, first, second = data["messages"]
    assert first["parent_id"] == second["parent_id"] == user["id"]
    assert (first["content"], second["content"]) == ("one", "two")
    assert data["current_id"] == second["id"]
    # -m picks the model of the new version; an id prefix names the reply.
    assert ok(run_cli("ask", "--regenerate", first["id"][:6], "-m", "other")) == "three\n"
    assert loopback.requests[2].json["model"] == "other"
    data = tree()
    third = data["messages"][-1]
    assert (third["parent_id"], third["model"], data["current_id"]) == (
        user["id"], "other", third["id"])
    shown = ok(run_cli("show", data["id"]))
    assert f"{third['id'][:8]} [assistant · test/other] [3/3]" in shown
    assert "one" not in shown.split("[3/3]")[1]


@pytest.mark.e2e
def test_edit_adds_a_version_of_a_prompt_and_keeps_the_old_branch(
        loopback: LoopbackServer) -> None:
    write_config(loopback.url)
    loopback.script(CHAT, [sse_reply(["a1"]), sse_reply(["a2"]), sse_reply(["fixed"]),
                           sse_reply(["new root"])])
    ok(run_cli("ask", "q1"))
    ok(run_cli("ask", "-c", "q2"))
    q1, a1, q2, a2 = tree()["messages"]
    result = run_cli("ask", "--edit", q2["id"][:5], "q2", "fixed", "--json")
    reply = json.loads(ok(result))
    assert (reply["content"], reply["role"]) == ("fixed", "assistant")
    assert loopback.requests[2].json["messages"] == [
        {"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "q2 fixed"}]
    data = tree()
    assert [m["content"] for m in current_path(data)] == ["q1", "a1", "q2 fixed", "fixed"]
    edited = current_path(data)[2]
    assert edited["parent_id"] == a1["id"] and edited["id"] != q2["id"]
    # The old version and what followed it are still there, on their branch.
    assert {q2["id"], a2["id"]} <= {m["id"] for m in data["messages"]}
    assert len(json.loads(ok(run_cli("branch", data["id"], "--json")))) == 2
    # Editing the first prompt makes a second root; the request holds only it.
    ok(run_cli("ask", "--conversation", data["id"][:6], "--edit", q1["id"], "q0"))
    assert loopback.requests[3].json["messages"] == [{"role": "user", "content": "q0"}]
    roots = [m for m in tree()["messages"] if m["parent_id"] is None]
    assert [m["content"] for m in roots] == ["q1", "q0"]


@pytest.mark.e2e
def test_regenerate_and_edit_refuse_what_they_cannot_mean(loopback: LoopbackServer) -> None:
    write_config(loopback.url)
    usage_error(run_cli("ask", "--regenerate"))  # nothing saved yet
    loopback.script(CHAT, sse_reply(["a1"]))
    ok(run_cli("ask", "q1"))
    before = tree()
    prompt, reply = before["messages"]
    assert "prompt" in usage_error(run_cli("ask", "-c", "--regenerate", prompt["id"][:6]))
    assert "reply" in usage_error(run_cli("ask", "-c", "--edit", reply["id"][:6], "x"))
    usage_error(run_cli("ask", "-c", "--regenerate", "--edit", prompt["id"], "x"))
    usage_error(run_cli("ask", "-c", "--regenerate", reply["id"], "extra", "words"))
    usage_error(run_cli("ask", "-c", "--regenerate", "-m", "a", "-m", "b"))
    usage_error(run_cli("ask", "-c", "--edit", prompt["id"], "-m", "a", "-m", "b", "x"))
    usage_error(run_cli("ask", "-c", "--edit", prompt["id"]))  # no new prompt
    usage_error(run_cli("ask", "-c", "--edit", "0000", "x"))  # no such message
    # Without --conversation the last conversation is meant, and the line says so.
    assert "pass --conversation" in usage_error(run_cli("ask", "--edit", "0000", "x"))
    usage_error(run_cli("ask", "-c", "--regenerate", ""))
    usage_error(run_cli("ask", "-c", "--regenerate", "--no-save"))
    usage_error(run_cli("ask", "--conversation", "nope", "--regenerate"))
    assert loopback.requests[1:] == []
    assert tree() == before


@pytest.mark.e2e
def test_a_failed_regenerate_keeps_the_previous_version(loopback: LoopbackServer) -> None:
    write_config(loopback.url)
    loopback.script(CHAT, [sse_reply(["kept"]), json_reply(
        {"error": {"message": "overloaded", "type": "server_error"}}, status=400)])
    ok(run_cli("ask", "q"))
    result = run_cli("ask", "-c", "--regenerate")
    assert result.returncode == 1 and result.stdout == b""
    assert b"overloaded" in result.stderr and result.stderr.count(b"\n") == 1
    data = tree()
    assert [m["content"] for m in current_path(data)] == ["q", "kept"]


def answer_when_both_asked(loopback: LoopbackServer) -> threading.Event:
    """model-a's reply waits after its first words until model-b's request has arrived:
    the compare only passes when the two requests are in flight at once."""
    both = threading.Event()

    def seen(request: Request) -> None:
        if request.json and request.json.get("model") == "model-b":
            both.set()

    loopback.on_request = seen
    first, *rest = sse_chunks(["Alpha", " says"], model="model-a")
    loopback.script(CHAT, stream_reply([first, Hold(both, timeout=10), *rest]),
                    model="model-a")
    loopback.script(CHAT, sse_reply(["Beta", " answers"], model="model-b"), model="model-b")
    return both


@pytest.mark.e2e
def test_compare_streams_one_reply_per_model_concurrently(loopback: LoopbackServer) -> None:
    write_config(loopback.url)
    answer_when_both_asked(loopback)
    result = run_cli("ask", "-m", "model-a", "-m", "model-b", "Hello?")
    out = ok(result)
    assert result.stderr == b""
    data = tree()
    user, reply_a, reply_b = data["messages"]
    # Each reply under a one-line header naming its model, in the order of the -m's,
    # though model-b finished first.
    assert out == (f"{reply_a['id'][:8]} [assistant · test/model-a]\nAlpha says\n\n"
                   f"{reply_b['id'][:8]} [assistant · test/model-b]\nBeta answers\n")
    assert [r.json["messages"] for r in loopback.requests] == [
        [{"role": "user", "content": "Hello?"}]] * 2
    assert (reply_a["model"], reply_b["model"]) == ("model-a", "model-b")
    assert reply_a["parent_id"] == reply_b["parent_id"] == user["id"]
    assert data["current_id"] == reply_a["id"]  # the first model's reply is current
    assert "[1/2]" in ok(run_cli("show", data["id"]))
    # Keeping the other one is `branch ID MESSAGE_ID`.
    ok(run_cli("branch", data["id"], reply_b["id"][:8]))
    assert tree()["current_id"] == reply_b["id"]


@pytest.mark.e2e
def test_compare_json_lists_the_replies_and_a_failure_is_named(
        loopback: LoopbackServer) -> None:
    write_config(loopback.url)
    answer_when_both_asked(loopback)
    replies = json.loads(ok(run_cli("ask", "--json", "-m", "model-a", "-m", "model-b", "Hi")))
    assert [(r["model"], r["content"], r["state"]) for r in replies] == [
        ("model-a", "Alpha says", "complete"), ("model-b", "Beta answers", "complete")]
    assert replies[0]["parent_id"] == replies[1]["parent_id"]
    assert replies[0]["conversation_id"] == replies[1]["conversation_id"] == tree()["id"]
    # In the same conversation: one model fails, the other's reply is still printed.
    loopback.script(CHAT, sse_reply(["fine"], model="model-a"), model="model-a")
    loopback.script(CHAT, json_reply({"error": {"message": "no such model"}}, status=404),
                    model="model-c")
    result = run_cli("ask", "-c", "-m", "model-a", "-m", "model-c", "again")
    assert result.returncode == 1
    assert "model-a]\nfine\n" in result.stdout.decode()
    [line] = result.stderr.decode().splitlines()
    assert "model-c" in line and "no such model" in line
    data = tree()
    assert [m["content"] for m in current_path(data)][-2:] == ["again", "fine"]
    usage_error(run_cli("ask", "-m", "model-a", "-m", "model-b", "--prefix", "x", "y"))


@pytest.mark.e2e
def test_ask_c_continues_the_branch_made_current(loopback: LoopbackServer) -> None:
    write_config(loopback.url)
    loopback.script(CHAT, [sse_reply(["one"]), sse_reply(["two"]), sse_reply(["more"])])
    ok(run_cli("ask", "count"))
    ok(run_cli("ask", "-c", "--regenerate"))
    _, first, _ = tree()["messages"]
    ok(run_cli("branch", tree()["id"], first["id"][:6]))  # back to "one"
    ok(run_cli("ask", "-c", "and then?"))
    assert loopback.requests[2].json["messages"] == [
        {"role": "user", "content": "count"}, {"role": "assistant", "content": "one"},
        {"role": "user", "content": "and then?"}]
    assert [m["content"] for m in current_path(tree())] == ["count", "one", "and then?", "more"]


@pytest.mark.e2e
def test_help_lists_the_tree_commands() -> None:
    shown = ok(run_cli("--help"))
    assert "branch" in shown and "fork" in shown
    ask = ok(run_cli("ask", "--help"))
    assert "--regenerate" in ask and "--edit" in ask and "compare" in ask


@pytest.mark.e2e
def test_ctrl_c_stops_every_reply_of_a_compare_and_keeps_what_arrived(
        loopback: LoopbackServer) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from chatterm_env import REPO_ROOT

    write_config(loopback.url)
    never = threading.Event()  # the rest of both replies never comes
    for model, word in (("model-a", "Alpha"), ("model-b", "Beta")):
        first, *rest = sse_chunks([word, " more"], model=model)
        loopback.script(CHAT, stream_reply([first, Hold(never), *rest]), model=model)
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    child = subprocess.Popen([sys.executable, "-m", "chatterm", "ask", "-m", "model-a", "-m",
                              "model-b", "Race"], env=env, cwd=REPO_ROOT,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    try:
        assert child.stdout is not None
        seen = b""
        deadline = time.monotonic() + 30
        while not seen.endswith(b"Alpha") and time.monotonic() < deadline:
            chunk = os.read(child.stdout.fileno(), 1024)  # model-a streams live
            assert chunk, "chatterm ended before model-a's first words"
            seen += chunk
        loopback.wait_for_requests(2)
        # model-b's first words have arrived once its saved row holds them.
        while saved_text("model-b") != "Beta" and time.monotonic() < deadline:
            time.sleep(0.05)
        child.send_signal(signal.SIGINT)
        rest, err = child.communicate(timeout=30)
    finally:
        never.set()
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 130, err
    assert err.decode().splitlines()[-1] == "chatterm: interrupted"
    out = (seen + rest).decode()
    assert out.startswith(out.split("\n")[0] + "\nAlpha") and "model-a]" in out.split("\n")[0]
    data = tree()
    _, reply_a, reply_b = data["messages"]
    assert (reply_a["state"], reply_a["content"]) == ("interrupted", "Alpha")
    assert reply_b["state"] == "interrupted" and reply_b["model"] == "model-b"
    # What model-b had received is kept, and printed under its header once it stopped.
    assert reply_b["content"] == "Beta"
    assert out.endswith(f"\n\n{reply_b['id'][:8]} [assistant · test/model-b]\nBeta\n")


def saved_text(model: str) -> str | None:
    """What the store holds of the reply by `model` in the one saved conversation."""
    from chatterm.store import Store

    with Store.open(read_only=True) as store:
        summaries = store.list_conversations()
        if not summaries:
            return None
        tree = store.get_tree(summaries[0].id)
    return next((m.content for m in tree.messages if m.model == model), None)


@pytest.mark.e2e
def test_show_says_a_reply_was_stopped_not_that_it_failed(loopback: LoopbackServer) -> None:
    """Ctrl+C on `ask` keeps what arrived; `show` says the reply was stopped (it printed
    '(error) stopped', which reads as a failure)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from chatterm_env import REPO_ROOT

    write_config(loopback.url)
    never = threading.Event()
    first, *rest = sse_chunks(["Partly", " more"])
    loopback.script(CHAT, stream_reply([first, Hold(never), *rest]))
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    child = subprocess.Popen([sys.executable, "-m", "chatterm", "ask", "Go"], env=env,
                             cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert child.stdout is not None
        seen, deadline = b"", time.monotonic() + 30
        while not seen.endswith(b"Partly") and time.monotonic() < deadline:
            chunk = os.read(child.stdout.fileno(), 1024)
            assert chunk, "chatterm ended before the reply's first word"
            seen += chunk
        child.send_signal(signal.SIGINT)
        child.communicate(timeout=30)
    finally:
        never.set()
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 130
    data = tree()
    _, reply = data["messages"]
    assert (reply["state"], reply["content"]) == ("interrupted", "Partly")
    shown = ok(run_cli("show", data["id"]))
    assert shown.endswith(f"{reply['id'][:8]} [assistant · test/test-model · interrupted]\n"
                          "Partly\n(stopped before the reply was complete)\n")
    assert "(error)" not in shown
    assert "(error)" not in ok(run_cli("show", data["id"], "--tree"))


@pytest.mark.e2e
def test_show_labels_a_reply_that_came_back_empty(loopback: LoopbackServer) -> None:
    write_config(loopback.url)
    loopback.script(CHAT, [sse_reply([""])])
    ok(run_cli("ask", "Say nothing"))
    data = tree()
    _, reply = data["messages"]
    assert (reply["state"], reply["content"]) == ("complete", "")
    shown = ok(run_cli("show", data["id"]))
    assert shown.endswith(f"{reply['id'][:8]} [assistant · test/test-model]\n(empty)\n")
    assert ok(run_cli("show", data["id"], "--tree")).endswith(" test-model: (empty)\n")
