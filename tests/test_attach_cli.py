"""`chatterm ask -a FILE`: what the request carries, and every refusal before anything goes.

Each test runs the real CLI in a subprocess against the loopback server.
"""

from __future__ import annotations

import base64
import os

import pytest
from attach_samples import jpeg, png
from chatterm_env import run_cli, write_config
from loopback import LoopbackServer, sse_reply

pytestmark = pytest.mark.e2e


def _user(loopback: LoopbackServer, index: int = -1) -> object:
    users = [m for m in loopback.requests[index].json["messages"] if m["role"] == "user"]
    return users[-1]["content"]


def _database_files() -> list[str]:
    data = os.environ["CHATTERM_DATA_DIR"]
    return sorted(os.listdir(data)) if os.path.isdir(data) else []


def test_a_text_file_goes_in_the_prompt_as_a_fenced_block(loopback, tmp_path) -> None:
    write_config(loopback.url)
    loopback.script("chat/completions", sse_reply(["ok"]))
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n````\nfour ticks inside\n````\n", encoding="utf-8")
    result = run_cli("ask", "--no-save", "-a", str(notes), "Summarise", "this")
    assert result.returncode == 0, result.stderr
    assert _user(loopback) == ("Summarise this\n\nnotes.md\n`````\n# Notes\n````\n"
                               "four ticks inside\n````\n`````")


def test_an_image_is_a_data_url_part_with_the_exact_bytes(loopback, tmp_path) -> None:
    write_config(loopback.url, model="gpt-4o")
    loopback.script("chat/completions", sse_reply(["a cat"]))
    shot, photo = tmp_path / "shot.png", tmp_path / "photo.jpg"
    shot.write_bytes(png(64, 32, padding=3000))
    photo.write_bytes(jpeg(800, 600))
    notes = tmp_path / "n.txt"
    notes.write_text("context\n")
    result = run_cli("ask", "--no-save", "--attach", str(shot), "-a", str(notes),
                     "-a", str(photo), "What is this?")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip() == "a cat"
    assert b"warning" not in result.stderr  # gpt-4o takes images
    parts = _user(loopback)
    assert parts[0] == {"type": "text", "text": "What is this?\n\nn.txt\n```\ncontext\n```"}
    urls = [part["image_url"]["url"] for part in parts[1:]]
    assert [part["type"] for part in parts[1:]] == ["image_url", "image_url"]
    assert urls[0] == "data:image/png;base64," + base64.b64encode(shot.read_bytes()).decode()
    assert base64.b64decode(urls[1].partition(",")[2]) == photo.read_bytes()
    assert urls[1].startswith("data:image/jpeg;base64,")


def test_an_image_alone_is_a_prompt(loopback, tmp_path) -> None:
    write_config(loopback.url, model="gpt-4o")
    loopback.script("chat/completions", sse_reply(["ok"]))
    shot = tmp_path / "shot.png"
    shot.write_bytes(png())
    result = run_cli("ask", "--no-save", "-a", str(shot))
    assert result.returncode == 0, result.stderr
    assert [part["type"] for part in _user(loopback)] == ["image_url"]


def test_dash_a_dash_reads_the_attachment_from_stdin(loopback) -> None:
    write_config(loopback.url, model="gpt-4o")
    loopback.script("chat/completions", [sse_reply(["ok"]), sse_reply(["ok"])])
    result = run_cli("ask", "--no-save", "-a", "-", "Explain", "this", "log",
                     input=b"ERROR disk full\n")
    assert result.returncode == 0, result.stderr
    assert _user(loopback) == "Explain this log\n\nstdin\n```\nERROR disk full\n```"
    image = png(5, 5)
    result = run_cli("ask", "--no-save", "-a", "-", "Describe", input=image)
    assert result.returncode == 0, result.stderr
    assert _user(loopback)[1]["image_url"]["url"].endswith(base64.b64encode(image).decode())


@pytest.mark.parametrize("prompt", [[], ["-"], ["Look", "-"]])
def test_both_from_stdin_is_one_line_and_nothing_is_sent(loopback, prompt) -> None:
    write_config(loopback.url)
    result = run_cli("ask", "-a", "-", *prompt, input=b"data")
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "the prompt cannot come from there too" in lines[0]
    assert loopback.requests == []
    assert _database_files() == []


def test_an_image_to_a_model_not_known_to_take_it_warns_and_is_sent(loopback,
                                                                    tmp_path) -> None:
    write_config(loopback.url, model="local-llm")
    loopback.script("chat/completions", [sse_reply(["ok"]), sse_reply(["ok"])])
    shot = tmp_path / "shot.png"
    shot.write_bytes(png())
    result = run_cli("ask", "--no-save", "-a", str(shot), "hi")
    assert result.returncode == 0, result.stderr
    assert result.stderr.decode().strip() == (
        "chatterm: warning: local-llm (test) is not known to take images; sending shot.png "
        "anyway (catalogs lag behind providers)")
    assert len(loopback.requests) == 1
    # A text file is not an image: nothing to warn about.
    notes = tmp_path / "n.txt"
    notes.write_text("x")
    result = run_cli("ask", "--no-save", "-a", str(notes), "hi")
    assert result.returncode == 0 and result.stderr == b""


@pytest.mark.parametrize(("setup", "says"), [
    ("missing", "no such file"),
    ("folder", "is a folder, not a file"),
    ("binary", "PNG, JPEG, WebP and GIF images, and UTF-8 text files can be attached"),
    ("big_text", "can be up to 10 B (attachments.max_text_bytes)"),
    ("big_image", "can be up to 100 B (attachments.max_image_bytes)"),
    ("count", "3 attachments: a message can carry up to 2 (attachments.max_count)"),
])
def test_bad_files_and_limits_are_one_line_with_nothing_sent_or_saved(
        loopback, tmp_path, setup, says) -> None:
    write_config(loopback.url, extra="[attachments]\nmax_text_bytes = 10\n"
                 "max_image_bytes = 100\nmax_count = 2\n")
    small = tmp_path / "s.txt"
    small.write_text("ok")
    files = {
        "missing": [tmp_path / "gone.txt"],
        "folder": [tmp_path],
        "binary": [tmp_path / "a.bin"],
        "big_text": [tmp_path / "big.txt"],
        "big_image": [tmp_path / "big.png"],
        "count": [small, small, small],
    }[setup]
    (tmp_path / "a.bin").write_bytes(b"\x00\x01\x02")
    (tmp_path / "big.txt").write_text("more than ten bytes")
    (tmp_path / "big.png").write_bytes(png(padding=200))
    args = [arg for path in files for arg in ("-a", str(path))]
    result = run_cli("ask", *args, "hello")
    assert result.returncode != 0
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and says in lines[0], lines
    assert "Traceback" not in result.stderr.decode()
    assert loopback.requests == []
    assert _database_files() == []


def test_bad_attachment_limits_in_the_config_are_one_line_naming_the_key(loopback) -> None:
    write_config(loopback.url, extra="[attachments]\nmax_count = 0\n")
    result = run_cli("ask", "hi")
    assert result.returncode == 2
    assert "attachments.max_count must be an integer from 1 up to 1000" in \
        result.stderr.decode()
    assert loopback.requests == []


def test_config_set_and_show_take_the_attachment_limits(loopback) -> None:
    write_config(loopback.url)
    assert run_cli("config", "set", "attachments.max_image_bytes", "5000000").returncode == 0
    bad = run_cli("config", "set", "attachments.max_text_bytes", "lots")
    assert bad.returncode == 2 and b"attachments.max_text_bytes must be" in bad.stderr
    import tomllib

    shown = run_cli("config", "show")
    assert shown.returncode == 0, shown.stderr
    limits = tomllib.loads(shown.stdout.decode())["attachments"]
    assert limits == {"max_image_bytes": 5000000, "max_text_bytes": 1048576, "max_count": 10}


def test_a_compare_sends_the_attachments_to_every_model(loopback, tmp_path) -> None:
    write_config(loopback.url, model="gpt-4o")
    loopback.script("chat/completions", [sse_reply(["a"])], model="gpt-4o")
    loopback.script("chat/completions", [sse_reply(["b"])], model="local-llm")
    shot = tmp_path / "shot.png"
    shot.write_bytes(png())
    result = run_cli("ask", "--no-save", "-m", "gpt-4o", "-m", "local-llm", "-a", str(shot),
                     "which?")
    assert result.returncode == 0, result.stderr
    # One warning, for the model not known to take images.
    assert result.stderr.decode().count("warning:") == 1
    assert b"local-llm (test) is not known to take images" in result.stderr
    for request in loopback.requests:
        parts = request.json["messages"][-1]["content"]
        assert parts[1]["image_url"]["url"].endswith(base64.b64encode(png()).decode())


def test_regenerate_takes_no_attachments(loopback, tmp_path) -> None:
    write_config(loopback.url)
    notes = tmp_path / "n.txt"
    notes.write_text("x")
    result = run_cli("ask", "--regenerate", "-a", str(notes))
    assert result.returncode == 2
    assert b"--regenerate takes no attachments" in result.stderr
    assert loopback.requests == []
