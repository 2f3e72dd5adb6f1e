"""The MCP host's pure parts: model-visible names, results as text, the environment."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any

from chatterm.mcp.env import server_environment
from chatterm.mcp.naming import MAX_NAME, model_names
from chatterm.mcp.results import result_text, tool_result
from chatterm.toolbox import ToolOutcome

VALID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def test_unique_tools_keep_their_names_and_clashing_ones_get_their_server() -> None:
    names = model_names([("time", "get_current_time"), ("kit", "echo"), ("web", "echo"),
                         ("web", "search")])
    assert names == {("time", "get_current_time"): "get_current_time",
                     ("kit", "echo"): "kit__echo", ("web", "echo"): "web__echo",
                     ("web", "search"): "search"}


def test_odd_and_long_names_are_cleaned_cut_and_still_unique_and_stable() -> None:
    long_a, long_b = "x" * 70 + "a", "x" * 70 + "b"
    tools = [("s", "read file"), ("s", "read.file"), ("s", "näme"), ("s", long_a),
             ("s", long_b), ("s", "")]
    names = model_names(tools)
    assert all(VALID.match(name) for name in names.values()), names
    assert len(set(names.values())) == len(tools)
    assert names[("s", "näme")] == "n_me"
    assert len(names[("s", long_a)]) == MAX_NAME
    assert names[("s", long_a)].startswith("x" * 50)
    assert model_names(tools) == names  # the same tools, the same names
    assert model_names(reversed(tools))[("s", long_b)] == names[("s", long_b)]


def test_a_clash_with_long_server_names_is_still_valid() -> None:
    server = "s" * 60
    names = model_names([(server, "echo"), ("other", "echo")])
    assert all(VALID.match(name) for name in names.values())
    assert names[("other", "echo")] == "other__echo"
    assert len(set(names.values())) == 2


@dataclass
class Block:
    type: str
    text: str | None = None
    data: str = ""
    mime_type: str | None = None
    uri: str = ""
    resource: Any = None


@dataclass
class Result:
    content: list[Block] = field(default_factory=list)
    structured_content: Any = None
    is_error: bool = False


def test_blocks_become_text_and_binary_is_named_with_its_size() -> None:
    png = base64.b64encode(b"\x89PNG" + b"\0" * (12 * 1024)).decode()
    resource = Block("resource", resource=Block("x", text="inside the resource"))
    blob = Block("resource", resource=Block("x", uri="file:///a.bin", mime_type="application/zip",
                                            data="", text=None))
    result = Result([Block("text", text="first"), Block("image", data=png, mime_type="image/png"),
                     resource, Block("audio", data="AAAA", mime_type="audio/wav"),
                     Block("resource_link", uri="file:///b.txt"), blob])
    assert result_text(result).split("\n\n") == [
        "first", "[image: image/png, 12 KB]", "inside the resource", "[audio: audio/wav, 3 B]",
        "[resource link: file:///b.txt]", "[resource file:///a.bin: application/zip, 0 B]"]


def test_structured_content_without_blocks_is_json_and_is_error_is_an_error() -> None:
    assert result_text(Result(structured_content={"a": 1})) == '{\n  "a": 1\n}'
    failed = tool_result(Result([Block("text", text="  \nno such file\nmore")], is_error=True))
    assert (failed.outcome, failed.error) == (ToolOutcome.ERROR, "no such file")
    assert failed.text == "  \nno such file\nmore"
    empty = tool_result(Result(is_error=True))
    assert empty.outcome is ToolOutcome.ERROR and empty.text
    assert tool_result(Result([Block("text", text="ok")])).outcome is ToolOutcome.OK


def test_the_environment_is_minimal_plus_the_servers_own() -> None:
    ours = {"PATH": "/bin", "HOME": "/h", "OPENAI_API_KEY": "sk-x", "LC_ALL": "C",
            "AWS_SECRET_ACCESS_KEY": "y", "TERM": "xterm", "BASH_FUNC_f%%": "() { :; }",
            "SHELL": "() { evil; }"}
    env = server_environment([("TOKEN_FOR_THIS_SERVER", "t"), ("HOME", "/elsewhere")], ours)
    assert env == {"PATH": "/bin", "HOME": "/elsewhere", "LC_ALL": "C", "TERM": "xterm",
                   "TOKEN_FOR_THIS_SERVER": "t"}
