"""The Markdown export keeps its own structure whatever the messages hold.

Parsed with markdown-it-py (the CommonMark parser Textual itself uses), the export must
have exactly its title and one level-2 heading per message, however the text in them
is written: an interrupted reply that stops inside a code fence, a reply line `## User`,
a paragraph underlined into a heading.
"""

from __future__ import annotations

import pytest

from chatterm.conversation import Conversation, Message, MessageState, Role
from chatterm.markdown_embed import embed
from chatterm.transfer import export_markdown

markdown_it = pytest.importorskip("markdown_it")


def _headings(document: str) -> list[tuple[str, str]]:
    tokens = markdown_it.MarkdownIt("commonmark").parse(document)
    found = []
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            found.append((token.tag, tokens[index + 1].content))
    return found


def _conversation(*messages: Message) -> Conversation:
    conv = Conversation(provider="p", model="m", title="Fences")
    conv.messages.extend(messages)
    return conv


def test_an_interrupted_reply_inside_a_code_fence_does_not_swallow_the_rest() -> None:
    cut = Message(role=Role.ASSISTANT, content="Here:\n\n````python\nprint('hi')\n```\nstill",
                  state=MessageState.INTERRUPTED, model="m", provider="p")
    after = Message(role=Role.USER, content="and then?")
    reply = Message(role=Role.ASSISTANT, content="Done.", model="m", provider="p")
    document = export_markdown(_conversation(Message(role=Role.USER, content="code"), cut,
                                             after, reply))
    top = [h for h in _headings(document) if h[0] in ("h1", "h2")]
    assert top == [("h1", "Fences"), ("h2", "User"), ("h2", "Assistant · m (p)"),
                   ("h2", "User"), ("h2", "Assistant · m (p)")]
    tokens = markdown_it.MarkdownIt("commonmark").parse(document)
    fences = [t for t in tokens if t.type == "fence"]
    assert len(fences) == 1 and fences[0].content == "print('hi')\n```\nstill\n"
    assert "*Reply interrupted*" in document.split("````python")[1]


def test_reply_lines_that_look_like_the_exports_headings_stay_inside_the_message() -> None:
    reply = Message(role=Role.ASSISTANT, model="m", provider="p", content=(
        "# Plan\n\n## User\n\nfake turn\n\nA title\n===\n\nSub\n---\n\n### Deep\n\n"
        "```\n## not a heading in code\n```"))
    document = export_markdown(_conversation(Message(role=Role.USER, content="go"), reply))
    top = [h for h in _headings(document) if h[0] in ("h1", "h2")]
    assert top == [("h1", "Fences"), ("h2", "User"), ("h2", "Assistant · m (p)")]
    inner = [h for h in _headings(document) if h[0] not in ("h1", "h2")]
    assert inner == [("h3", "Plan"), ("h4", "User"), ("h5", "Deep")]
    assert "```\n## not a heading in code\n```" in document


@pytest.mark.parametrize("text", [
    "plain text", "```\ncode\n```", "~~~\nx\n~~~", "    indented ``` code", "a\n\n---\n\nb",
    "``` not a fence because `backtick` in the info\n## h",
])
def test_embed_changes_nothing_it_need_not(text: str) -> None:
    shown = embed(text)
    assert [t.type for t in markdown_it.MarkdownIt("commonmark").parse(shown)
            if t.type == "fence"] == [t.type for t in
                                      markdown_it.MarkdownIt("commonmark").parse(text)
                                      if t.type == "fence"]
    if "#" not in text:
        assert shown == text


def test_system_prompt_and_reasoning_are_contained_too() -> None:
    conv = _conversation(Message(role=Role.USER, content="hi"), Message(
        role=Role.ASSISTANT, model="m", provider="p", reasoning="## Assistant\n```\nopen",
        content="answer"))
    conv.system_prompt = "# Rules\n```"
    top = [h for h in _headings(export_markdown(conv)) if h[0] in ("h1", "h2")]
    assert top == [("h1", "Fences"), ("h2", "System prompt"), ("h2", "User"),
                   ("h2", "Assistant · m (p)")]


@pytest.mark.parametrize("opening", ["<pre>", "<script>", "<!-- open", "<?php", "<![CDATA["])
def test_an_html_block_left_open_does_not_swallow_the_rest(opening: str) -> None:
    cut = Message(role=Role.ASSISTANT, content=f"{opening}\nopen\n", model="m", provider="p",
                  state=MessageState.INTERRUPTED)
    document = export_markdown(_conversation(Message(role=Role.USER, content="one"), cut,
                                             Message(role=Role.USER, content="two")))
    top = [h for h in _headings(document) if h[0] in ("h1", "h2")]
    assert top == [("h1", "Fences"), ("h2", "User"), ("h2", "Assistant · m (p)"),
                   ("h2", "User")]
