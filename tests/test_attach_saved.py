"""Attachments saved with the chat (schema v5): `show`, `show --json`, the exports, import's
byte-for-byte round trip, and every later request of the chat re-sending them from the
store. The real CLI in subprocesses, against the loopback server."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from attach_samples import png
from chatterm_env import run_cli, write_config
from loopback import LoopbackServer, sse_reply

pytestmark = pytest.mark.e2e

IMAGE = png(40, 30, padding=5000)


def _saved_chat(loopback: LoopbackServer, tmp_path) -> tuple[str, bytes, bytes]:
    write_config(loopback.url, model="gpt-4o")
    loopback.script("chat/completions", sse_reply(["a chart"]))
    shot, notes = tmp_path / "chart.png", tmp_path / "notes.md"
    shot.write_bytes(IMAGE)
    notes.write_bytes(b"# Q3\nrevenue up\n")
    result = run_cli("ask", "--json", "-a", str(shot), "-a", str(notes), "What is this?")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["conversation_id"], IMAGE, notes.read_bytes()


def _user_contents(loopback: LoopbackServer, index: int = -1) -> list[object]:
    return [m["content"] for m in loopback.requests[index].json["messages"]
            if m["role"] == "user"]


def test_show_names_them_and_show_json_lists_them(loopback, tmp_path) -> None:
    conversation_id, image, notes = _saved_chat(loopback, tmp_path)
    shown = run_cli("show", conversation_id)
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout.decode()
    assert f"(attached) chart.png  image/png, 40×30, {len(image) / 1024:.1f} KB" in text
    assert "(attached) notes.md  text/markdown, 16 B" in text
    listing = json.loads(run_cli("show", conversation_id, "--json").stdout)
    assert listing["version"] == 3 and "attachments" not in listing  # names, not bytes
    assert listing["messages"][0]["attachments"] == [
        {"name": "chart.png", "mime": "image/png", "size": len(image),
         "sha256": hashlib.sha256(image).hexdigest(), "width": 40, "height": 30},
        {"name": "notes.md", "mime": "text/markdown", "size": len(notes),
         "sha256": hashlib.sha256(notes).hexdigest()}]
    markdown = run_cli("export", conversation_id).stdout.decode()
    assert "- Attached: `chart.png` (image/png, 40×30," in markdown


def test_the_next_prompt_re_sends_them_from_the_store(loopback, tmp_path) -> None:
    _, image, _ = _saved_chat(loopback, tmp_path)
    loopback.script("chat/completions", [sse_reply(["more"]), sse_reply(["again"])])
    assert run_cli("ask", "-c", "And the trend?").returncode == 0
    first, follow = _user_contents(loopback)
    assert follow == "And the trend?"
    assert first[0]["text"] == "What is this?\n\nnotes.md\n```\n# Q3\nrevenue up\n```"
    assert first[1]["image_url"]["url"] == \
        "data:image/png;base64," + base64.b64encode(image).decode()
    result = run_cli("ask", "-c", "--regenerate")
    assert result.returncode == 0, result.stderr
    assert _user_contents(loopback)[0] == first


def test_an_edit_keeps_the_attachments_unless_given_new_ones(loopback, tmp_path) -> None:
    conversation_id, image, _ = _saved_chat(loopback, tmp_path)
    prompt_id = json.loads(run_cli("show", conversation_id, "--json").stdout)[
        "messages"][0]["id"]
    loopback.script("chat/completions", [sse_reply(["x"]), sse_reply(["y"])])
    assert run_cli("ask", "--edit", prompt_id[:8], "What colour?").returncode == 0
    parts = _user_contents(loopback)[0]
    assert parts[0]["text"].startswith("What colour?\n\nnotes.md\n")
    assert parts[1]["image_url"]["url"].endswith(base64.b64encode(image).decode())
    other = tmp_path / "other.txt"
    other.write_text("only this")
    assert run_cli("ask", "--edit", prompt_id[:8], "-a", str(other), "Now?").returncode == 0
    assert _user_contents(loopback)[0] == "Now?\n\nother.txt\n```\nonly this\n```"


def test_export_and_import_round_trip_the_bytes(loopback, tmp_path) -> None:
    conversation_id, image, notes = _saved_chat(loopback, tmp_path)
    exported = tmp_path / "chat.json"
    assert run_cli("export", conversation_id, "--format", "json", "-o",
                   str(exported)).returncode == 0
    document = json.loads(exported.read_text())
    assert sorted(base64.b64decode(entry["data"]) for entry in document["attachments"]) \
        == sorted([image, notes])
    imported = run_cli("import", str(exported), "--as-new")
    assert imported.returncode == 0, imported.stderr
    copy_id = imported.stdout.decode().strip()
    again = tmp_path / "again.json"
    assert run_cli("export", copy_id, "--format", "json", "-o", str(again)).returncode == 0
    entries = {e["sha256"]: e["data"] for e in json.loads(again.read_text())["attachments"]}
    assert entries == {e["sha256"]: e["data"] for e in document["attachments"]}
    # The copy's next prompt sends the image read back from the store, byte for byte.
    loopback.script("chat/completions", sse_reply(["ok"]))
    assert run_cli("ask", "--conversation", copy_id, "more?").returncode == 0
    assert _user_contents(loopback)[0][1]["image_url"]["url"].endswith(
        base64.b64encode(image).decode())


def test_a_tampered_export_imports_nothing(loopback, tmp_path) -> None:
    conversation_id, image, _ = _saved_chat(loopback, tmp_path)
    exported = tmp_path / "chat.json"
    run_cli("export", conversation_id, "--format", "json", "-o", str(exported))
    document = json.loads(exported.read_text())
    entry = next(e for e in document["attachments"] if e["mime"] == "image/png")
    entry["data"] = base64.b64encode(image[:-1] + b"\x00").decode()
    exported.write_text(json.dumps(document))
    before = run_cli("list", "--json").stdout
    result = run_cli("import", str(exported), "--as-new")
    assert result.returncode != 0
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "do not match its sha256" in lines[0]
    assert run_cli("list", "--json").stdout == before
    # A `show --json` listing names the attachments without their bytes: not an export.
    listing = tmp_path / "listing.json"
    listing.write_bytes(run_cli("show", conversation_id, "--json").stdout)
    result = run_cli("import", str(listing), "--as-new")
    assert result.returncode != 0 and b"does not carry the bytes" in result.stderr
    assert run_cli("list", "--json").stdout == before


def test_no_save_continuing_a_saved_chat_re_sends_its_attachments(loopback, tmp_path) -> None:
    _saved_chat(loopback, tmp_path)
    loopback.script("chat/completions", sse_reply(["ok"]))
    result = run_cli("ask", "-c", "--no-save", "one more")
    assert result.returncode == 0, result.stderr
    assert _user_contents(loopback)[0][1]["image_url"]["url"].endswith(
        base64.b64encode(IMAGE).decode())
