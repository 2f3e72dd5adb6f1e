"""Versions in the app, as a person meets them: `‹ 2/3 ›` in a message's header, flipping
with ←/→, [/] and a click, `e` to edit a prompt, `r`/`R` to regenerate a reply, Ctrl+R
again and again. Against the real engine, store and the loopback server."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from loopback import Hold, Reply, sse_reply
from ui_helpers import running, screen_text, wait_until

from chatterm.conversation import Conversation, Message, Role
from chatterm.launch import LaunchOptions
from chatterm.store import Store

pytestmark = pytest.mark.slow

CHAT = "chat/completions"
T0 = 1_600_000_000.0


def tree_chat(edges: list[tuple[str, str | None, str]], current: str, *,
              conversation_id: str | None = None) -> Conversation:
    """A saved chat from (name, parent name, text) rows: names starting with "u" are
    prompts, "a" replies; ids are "<conversation id>-<name>"; `current` is the leaf shown."""
    conversation = Conversation(provider="loop", model="model-a", title="tree",
                                created_at=T0, updated_at=T0)
    if conversation_id is not None:
        conversation.id = conversation_id
    cid = conversation.id
    for index, (name, parent, text) in enumerate(edges):
        reply = name.startswith("a")
        conversation.messages.append(Message(
            role=Role.ASSISTANT if reply else Role.USER, content=text, id=f"{cid}-{name}",
            conversation_id=cid, parent_id=f"{cid}-{parent}" if parent else None,
            created_at=T0 + index, provider="loop" if reply else None,
            model="model-a" if reply else None, finish_reason="stop" if reply else None))
    conversation.current_id = f"{cid}-{current}"
    with Store.open() as store:
        store.create_conversation(conversation)
    return conversation


# u1 → a1 → u2 → a2 → u3 → a3 (the older branch), and u2 → a2b (a regenerated reply, current)
BRANCHED = [
    ("u1", None, "first question"), ("a1", "u1", "first answer"),
    ("u2", "a1", "second question"), ("a2", "u2", "old second answer"),
    ("u3", "a2", "third question"), ("a3", "u3", "third answer"),
    ("a2b", "u2", "new second answer"),
]
STRAIGHT = BRANCHED[:4]


def views(app: Any) -> list[Any]:
    return app.chat.message_list.views()


def ids(app: Any) -> list[str]:
    return [view.message.id.rsplit("-", 1)[-1] for view in views(app)]


def saved_tree(conversation_id: str) -> Conversation:
    with Store.open() as store:
        return store.get_tree(conversation_id)


async def until_idle(pilot: Any) -> None:
    await wait_until(pilot, lambda: not pilot.app.chat.busy, what="the reply to end")


async def shown(pilot: Any, names: list[str]) -> None:
    await wait_until(pilot, lambda: ids(pilot.app) == names,
                     what=f"the branch {names} (shown: {ids(pilot.app)})")


# ---- ‹ 2/3 › and flipping -----------------------------------------------------------------


async def test_flipping_a_version_redraws_only_below_it_and_is_kept(server: Any) -> None:
    chat = tree_chat(BRANCHED, "a2b")
    async with running(LaunchOptions(resume_id=chat.id)) as (app, pilot):
        await shown(pilot, ["u1", "a1", "u2", "a2b"])
        await wait_until(pilot, lambda: views(app)[3].switch_text == "‹ 2/2 ›",
                         what="the version switch")
        assert [view.switch_text for view in views(app)[:3]] == ["", "", ""]
        assert "‹ 2/2 ›" in screen_text(app)
        above = views(app)[:3]
        views(app)[3].focus()
        await pilot.press("left")
        # The other version's most recently active branch, drawn below the same widgets.
        await shown(pilot, ["u1", "a1", "u2", "a2", "u3", "a3"])
        assert all(new is old for new, old in zip(views(app)[:3], above, strict=False))
        await wait_until(pilot, lambda: app.focused is views(app)[3],
                         what="the flipped message to keep the focus")
        assert views(app)[3].switch_text == "‹ 1/2 ›"
        assert "old second answer" in screen_text(app)
        assert "third answer" in app.chat.message_list.views()[5].message.content
        # ] goes forward again, [ back; both as ← and →.
        await pilot.press("right_square_bracket")
        await shown(pilot, ["u1", "a1", "u2", "a2b"])
        assert all(new is old for new, old in zip(views(app)[:3], above, strict=False))
        await wait_until(pilot, lambda: app.focused is views(app)[3], what="focus")
        await pilot.press("left_square_bracket")
        await shown(pilot, ["u1", "a1", "u2", "a2", "u3", "a3"])
        # At the first version there is nowhere further back: ← is not offered (the
        # footer test below follows that through flips).
        await wait_until(pilot, lambda: app.focused is views(app)[3], what="focus")
        assert not views(app)[3].check_action("previous_version", ())
        assert ids(app) == ["u1", "a1", "u2", "a2", "u3", "a3"]
    # The choice was saved: the next launch shows the same branch.
    assert saved_tree(chat.id).current_id == f"{chat.id}-a3"
    async with running(LaunchOptions(resume_id=chat.id)) as (app, pilot):
        await shown(pilot, ["u1", "a1", "u2", "a2", "u3", "a3"])


async def test_clicking_the_arrows_flips(server: Any) -> None:
    chat = tree_chat(BRANCHED, "a2b")
    async with running(LaunchOptions(resume_id=chat.id)) as (app, pilot):
        await shown(pilot, ["u1", "a1", "u2", "a2b"])
        await wait_until(pilot, lambda: views(app)[3].switch_text == "‹ 2/2 ›",
                         what="the version switch")
        header = views(app)[3].query_one(".msg-header")
        width = header.size.width
        # "‹ 2/2 ›" ends the line: ‹ is 7 cells from the right edge, › the last one.
        await pilot.click(header, offset=(width - 7, 0))
        await shown(pilot, ["u1", "a1", "u2", "a2", "u3", "a3"])
        header = views(app)[3].query_one(".msg-header")
        await pilot.click(header, offset=(header.size.width - 1, 0))
        await shown(pilot, ["u1", "a1", "u2", "a2b"])


async def test_the_switch_stays_on_the_right_at_40_columns_and_through_a_resize(
        server: Any) -> None:
    chat = tree_chat(BRANCHED, "a2b")
    async with running(LaunchOptions(resume_id=chat.id), size=(120, 30)) as (app, pilot):
        await shown(pilot, ["u1", "a1", "u2", "a2b"])
        await wait_until(pilot, lambda: "‹ 2/2 ›" in screen_text(app), what="the switch")

        def header_row() -> str:
            region = views(app)[3].query_one(".msg-header").region
            return screen_text(app).splitlines()[region.y][region.x:region.right]

        assert header_row().rstrip().endswith("‹ 2/2 ›")
        assert header_row().startswith("model-a")
        await pilot.resize_terminal(40, 30)
        await wait_until(pilot, lambda: header_row().rstrip().endswith("‹ 2/2 ›"),
                         what="the switch at the right edge at 40 columns")
        assert "model-a" in header_row()


# ---- edit a prompt -------------------------------------------------------------------


async def test_e_edits_a_prompt_in_the_prompt_box_and_esc_gives_the_draft_back(
        server: Any) -> None:
    chat = tree_chat(STRAIGHT, "a2")
    server.script(CHAT, sse_reply(["edited ", "answer"]))
    async with running(LaunchOptions(resume_id=chat.id)) as (app, pilot):
        await shown(pilot, ["u1", "a1", "u2", "a2"])
        prompt = app.chat.prompt
        prompt.insert("half-written draft")
        views(app)[2].focus()
        await pilot.press("e")
        assert prompt.text == "second question"
        assert app.focused is prompt
        assert views(app)[2].has_class("-editing")
        await wait_until(pilot, lambda: "Editing a prompt" in screen_text(app),
                         what="the edit banner")
        await pilot.press("escape")
        assert prompt.text == "half-written draft"
        assert not views(app)[2].has_class("-editing")
        await wait_until(pilot, lambda: "Editing a prompt" not in screen_text(app),
                         what="the banner to go")
        assert not server.requests
        # Again, this time changing it and sending it.
        above = views(app)[:2]
        views(app)[2].focus()
        await pilot.press("e")
        await pilot.press("ctrl+u")
        prompt.insert("a better second question")
        await pilot.press("enter")
        await until_idle(pilot)
        sent = server.requests[0].json["messages"]
        assert [m["content"] for m in sent] == ["first question", "first answer",
                                                "a better second question"]
        await wait_until(pilot, lambda: len(views(app)) == 4, what="the new branch")
        assert all(new is old for new, old in zip(views(app)[:2], above, strict=False))
        assert views(app)[2].message.content == "a better second question"
        assert views(app)[3].body_text == "edited answer"
        await wait_until(pilot, lambda: views(app)[2].switch_text == "‹ 2/2 ›",
                         what="the new version's switch")
        assert prompt.text == "half-written draft"  # the draft is back
        # The old prompt is a version, one flip away, with its reply.
        views(app)[2].focus()
        await pilot.press("left")
        await shown(pilot, ["u1", "a1", "u2", "a2"])
    tree = saved_tree(chat.id)
    assert len(tree.messages) == 6


async def test_keys_typed_right_after_e_go_into_the_prompt_being_edited(server: Any) -> None:
    from textual import events

    chat = tree_chat(STRAIGHT, "a2")
    async with running(LaunchOptions(resume_id=chat.id)) as (app, pilot):
        await shown(pilot, ["u1", "a1", "u2", "a2"])
        views(app)[2].focus()
        await pilot.pause()
        # As fast as tmux or a typist sends them: all queued before the first is handled
        # (the second "e" is a letter of the text, not another edit).
        for letter in "e, then e":
            app.post_message(events.Key({" ": "space", ",": "comma"}.get(letter, letter),
                                        letter))
        await wait_until(pilot, lambda: app.chat.prompt.text == "second question, then e",
                         what=f"the edit's text (prompt: {app.chat.prompt.text!r})")
        assert app.focused is app.chat.prompt
        assert views(app)[2].has_class("-editing")


# ---- regenerate a reply -----------------------------------------------------------------


async def test_r_regenerates_a_reply_and_shift_r_with_a_model_for_that_reply(
        server: Any) -> None:
    from test_ui_chat import models_reply

    from chatterm.ui.pickers.model_picker import ModelPicker

    chat = tree_chat(STRAIGHT, "a2")
    server.always("models", models_reply("model-a", "model-b"))
    server.script(CHAT, sse_reply(["again"], model="model-a"))
    server.script(CHAT, sse_reply(["from B"], model="model-b"))
    async with running(LaunchOptions(resume_id=chat.id)) as (app, pilot):
        await shown(pilot, ["u1", "a1", "u2", "a2"])
        first = views(app)[0]
        views(app)[1].focus()
        await pilot.press("r")
        await until_idle(pilot)
        assert [m["content"] for m in server.requests[0].json["messages"]] == ["first question"]
        # What followed the old reply stays on its branch, off the screen.
        await wait_until(pilot, lambda: len(views(app)) == 2, what="the new branch")
        assert views(app)[0] is first
        assert views(app)[1].body_text == "again"
        await wait_until(pilot, lambda: views(app)[1].switch_text == "‹ 2/2 ›",
                         what="the switch")
        # R: another model, for this one reply.
        views(app)[1].focus()
        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelPicker), what="the picker")
        picker = app.screen
        await wait_until(pilot, lambda: "model-b" in screen_text(app), what="model-b listed")
        assert "Regenerate this reply with" in screen_text(app)
        for key in "model-b":
            await pilot.press(key)
        await wait_until(pilot, lambda: picker.highlighted_model == "model-b",
                         what="model-b highlighted")
        await pilot.press("enter")
        await until_idle(pilot)
        chats = [r for r in server.requests if r.path.endswith("/chat/completions")]
        assert chats[1].json["model"] == "model-b"
        await wait_until(pilot, lambda: views(app)[1].body_text == "from B", what="B's reply")
        assert views(app)[1].message.model == "model-b"
        await wait_until(pilot, lambda: views(app)[1].switch_text == "‹ 3/3 ›",
                         what="the third version")
        # The chat's own model did not change.
        assert app.chat.conversation.model == "model-a"
        assert "loop · model-a" in screen_text(app)


async def test_ctrl_r_keeps_regenerating_the_last_reply(server: Any) -> None:
    chat = tree_chat(STRAIGHT, "a2")
    server.script(CHAT, sse_reply(["take two"]))
    server.script(CHAT, sse_reply(["take three"]))
    async with running(LaunchOptions(resume_id=chat.id)) as (app, pilot):
        await shown(pilot, ["u1", "a1", "u2", "a2"])
        for text, switch in (("take two", "‹ 2/2 ›"), ("take three", "‹ 3/3 ›")):
            await pilot.press("ctrl+r")
            await until_idle(pilot)
            await wait_until(pilot, lambda t=text: views(app)[-1].body_text == t,  # type: ignore[misc]
                             what=text)
            await wait_until(pilot, lambda s=switch: views(app)[-1].switch_text == s,  # type: ignore[misc]
                             what=switch)
        assert len(views(app)) == 4
    replies = [m for m in saved_tree(chat.id).messages if m.parent_id == f"{chat.id}-u2"]
    assert [m.content for m in replies] == ["old second answer", "take two", "take three"]


async def test_a_regeneration_stopped_before_any_text_gives_the_old_branch_back(
        server: Any) -> None:
    chat = tree_chat(STRAIGHT, "a2")
    hold = threading.Event()
    server.script(CHAT, Reply(before=[Hold(hold)]))
    async with running(LaunchOptions(resume_id=chat.id)) as (app, pilot):
        try:
            await shown(pilot, ["u1", "a1", "u2", "a2"])
            views(app)[1].focus()
            await pilot.press("r")
            await wait_until(pilot, lambda: len(server.requests) == 1, what="the request")
            await wait_until(pilot, lambda: len(views(app)) == 2, what="the tail off screen")
            app.chat.action_stop()
            await until_idle(pilot)
            await shown(pilot, ["u1", "a1", "u2", "a2"])
            assert views(app)[1].message.content == "first answer"
            assert views(app)[1].switch_text == ""
        finally:
            hold.set()


# ---- the keys as hinted ---------------------------------------------------------------


async def test_a_focused_message_hints_its_own_keys_and_other_letters_go_to_the_prompt(
        server: Any) -> None:
    from textual import events

    chat = tree_chat(BRANCHED, "a2b")
    async with running(LaunchOptions(resume_id=chat.id), size=(120, 30)) as (app, pilot):
        await shown(pilot, ["u1", "a1", "u2", "a2b"])
        await wait_until(pilot, lambda: views(app)[3].switch_text, what="the switch")
        views(app)[3].focus()
        await wait_until(pilot, lambda: "← versions · r regenerate · R other model"
                         in app.chat.status.text, what="a reply's hint")
        await wait_until(pilot, lambda: "Regenerate" in screen_text(app), what="the footer")
        assert "Edit" not in screen_text(app).splitlines()[-1]
        views(app)[2].focus()
        await wait_until(pilot, lambda: app.chat.status.text.startswith("e edit · c copy"),
                         what="a prompt's hint")
        # `r` means nothing on a prompt: it is typed into the prompt, like any letter.
        app.post_message(events.Key("r", "r"))
        await wait_until(pilot, lambda: app.chat.prompt.text == "r", what="r typed")
        assert app.focused is app.chat.prompt


# ---- a snapshot -----------------------------------------------------------------------


def test_snapshot_of_a_header_with_its_version_switch_at_40_columns(
        server: Any, snap_compare: Any) -> None:
    """The prompt's and the reply's header lines with `‹ n/m ›`, the reply focused."""
    from test_snapshots import quiet
    from ui_helpers import make_app

    edges = [("u1", None, "What is a monad?"), ("a1", "u1", "A monoid in the category."),
             ("u1b", None, "What is a monad, simply?"),
             ("a1b", "u1b", "A value in a box, with a way to chain boxes."),
             ("a1c", "u1b", "A pattern for chaining steps that carry context.")]
    chat = tree_chat(edges, "a1c", conversation_id="ve500000000000000000000000000001")
    app = make_app(LaunchOptions(resume_id=chat.id))

    async def run_before(pilot: Any) -> None:
        await quiet(pilot)
        await wait_until(pilot, lambda: [v.switch_text for v in app.chat.message_list.views()]
                         == ["‹ 2/2 ›", "‹ 2/2 ›"], what="both switches")
        app.chat.message_list.views()[1].focus()
        await wait_until(pilot, lambda: "versions" in app.chat.status.text, what="the hint")
        await pilot.pause()

    try:
        assert snap_compare(app, terminal_size=(40, 16), run_before=run_before)
    finally:
        app.store.close()


async def test_the_footer_offers_only_the_version_keys_that_go_somewhere_through_flips(
        server: Any) -> None:
    """qa12 #5: the footer kept `← Previous → Next` on ‹ 2/2 › and on ‹ 1/2 › after a flip."""
    chat = tree_chat(BRANCHED, "a2b")

    def footer() -> str:
        return "\n".join(screen_text(app).splitlines()[-3:])

    async with running(LaunchOptions(resume_id=chat.id), size=(120, 30)) as (app, pilot):
        await shown(pilot, ["u1", "a1", "u2", "a2b"])
        await wait_until(pilot, lambda: views(app)[3].switch_text == "‹ 2/2 ›", what="switch")
        await until_idle(pilot)
        await wait_until(pilot, lambda: app.focused is app.chat.prompt, what="the prompt")
        await pilot.press("shift+tab")
        await wait_until(pilot, lambda: app.focused is views(app)[3], what="the last reply")
        await wait_until(pilot, lambda: "Previous" in footer() and "Next" not in footer(),
                         what=f"only Previous on the last version (footer: {footer()!r})")
        await pilot.press("left")
        await shown(pilot, ["u1", "a1", "u2", "a2", "u3", "a3"])
        await wait_until(pilot, lambda: app.focused is views(app)[3], what="focus")
        await wait_until(pilot, lambda: "Next" in footer() and "Previous" not in footer(),
                         what=f"only Next on the first version (footer: {footer()!r})")
        await wait_until(pilot, lambda: "→ versions" in app.chat.status.text
                         and "←" not in app.chat.status.text,
                         what=f"the hint follows too ({app.chat.status.text!r})")
        await pilot.press("right")
        await shown(pilot, ["u1", "a1", "u2", "a2b"])
        await wait_until(pilot, lambda: app.focused is views(app)[3], what="focus")
        await wait_until(pilot, lambda: "Previous" in footer() and "Next" not in footer(),
                         what=f"only Previous again (footer: {footer()!r})")


async def test_an_error_line_goes_once_another_version_is_shown(server: Any) -> None:
    """qa12 #7: "error: the last reply is complete; use retry…" (and a reply's error) stayed
    in the status line through flips to other versions, as if it were about them."""
    chat = tree_chat(BRANCHED, "a2b")
    async with running(LaunchOptions(resume_id=chat.id), size=(120, 30)) as (app, pilot):
        await shown(pilot, ["u1", "a1", "u2", "a2b"])
        await wait_until(pilot, lambda: views(app)[3].switch_text == "‹ 2/2 ›", what="switch")
        await until_idle(pilot)
        await pilot.press("ctrl+g")  # Continue, on a complete reply: an error
        await wait_until(pilot, lambda: "error: the last reply is complete"
                         in app.chat.status.text, what="the error")
        await pilot.press("shift+tab")
        await wait_until(pilot, lambda: app.focused is views(app)[3], what="the last reply")
        await pilot.press("left")
        await shown(pilot, ["u1", "a1", "u2", "a2", "u3", "a3"])
        await wait_until(pilot, lambda: "error" not in app.chat.status.text,
                         what=f"the error to go ({app.chat.status.text!r})")
        await wait_until(pilot, lambda: "→ versions" in app.chat.status.text,
                         what="the focused message's hint instead")


async def test_esc_on_a_focused_reply_that_is_waiting_stops_it(server: Any) -> None:
    """qa12 #6: Esc while a focused reply was "waiting…" only moved the focus to the
    prompt; the reply kept waiting until a second Esc."""
    from test_ui_chat import models_reply

    from chatterm.ui.pickers.model_picker import ModelPicker

    chat = tree_chat(STRAIGHT, "a2")
    hold = threading.Event()
    server.always("models", models_reply("model-a", "model-b"))
    server.script(CHAT, Reply(before=[Hold(hold)]))
    async with running(LaunchOptions(resume_id=chat.id)) as (app, pilot):
        try:
            await shown(pilot, ["u1", "a1", "u2", "a2"])
            await until_idle(pilot)
            await pilot.press("shift+tab")
            await wait_until(pilot, lambda: app.focused is views(app)[3], what="the reply")
            await pilot.press("R")  # another model, as qa12 did
            await wait_until(pilot, lambda: isinstance(app.screen, ModelPicker), what="picker")
            picker = app.screen
            await wait_until(pilot, lambda: "model-b" in screen_text(app), what="model-b")
            for key in "model-b":
                await pilot.press(key)
            await wait_until(pilot, lambda: picker.highlighted_model == "model-b",
                             what="model-b highlighted")
            await pilot.press("enter")
            await wait_until(pilot, lambda: any(r.path.endswith(CHAT) for r in server.requests),
                             what="the request")
            await wait_until(pilot, lambda: app.chat.busy, what="the reply to wait")
            focused = app.focused
            assert focused is not app.chat.prompt and focused in views(app), focused
            await pilot.press("escape")
            await until_idle(pilot)
            # Stopped by that one Esc, not ended by the stall timeout 5 s later.
            assert "error" not in app.chat.status.text, app.chat.status.text
            assert app.focused is app.chat.prompt
            await shown(pilot, ["u1", "a1", "u2", "a2"])
        finally:
            hold.set()


async def test_flipping_back_to_a_longer_branch_of_a_short_chat_shows_all_of_it(
        server: Any) -> None:
    """qa12 #4: after `e` on the first prompt of a 6-message chat, flipping that prompt
    back drew the 6 messages below blank rows, the last ones cut off until End."""
    edges = [("u1", None, "first"), ("a1", "u1", "answer"), ("u2", "a1", "second"),
             ("a2", "u2", "answer2"), ("u3", "a2", "third"), ("a3", "u3", "answer3")]
    chat = tree_chat(edges, "a3")
    server.script(CHAT, sse_reply(["short ", "reply"]))
    async with running(LaunchOptions(resume_id=chat.id), size=(120, 40)) as (app, pilot):
        await shown(pilot, ["u1", "a1", "u2", "a2", "u3", "a3"])
        await until_idle(pilot)
        await pilot.press("shift+tab")
        await wait_until(pilot, lambda: app.focused is views(app)[5], what="the last reply")
        await pilot.press(*["up"] * 5)
        await wait_until(pilot, lambda: app.focused is views(app)[0], what="the first prompt")
        await pilot.press("e", "x", "enter")
        await until_idle(pilot)
        await wait_until(pilot, lambda: len(views(app)) == 2, what="the edited branch")
        await pilot.press("shift+tab")
        await wait_until(pilot, lambda: app.focused is views(app)[1], what="its reply")
        await pilot.press("up")
        await wait_until(pilot, lambda: app.focused is views(app)[0], what="its prompt")
        await pilot.press("left")
        await shown(pilot, ["u1", "a1", "u2", "a2", "u3", "a3"])
        box = app.chat.message_list.content_region

        def on_screen() -> bool:
            regions = [view.region for view in views(app)]
            return all(box.y <= r.y and r.bottom <= box.bottom for r in regions) \
                and regions[-1].bottom == box.bottom  # at the bottom, as a short chat sits
        await wait_until(pilot, on_screen, what="all six on screen, "
                         f"{[v.region.y for v in views(app)]} in {box}")


async def test_shift_tab_goes_to_the_newest_reply_once_a_new_turn_came(server: Any) -> None:
    """qa12 #9: Shift+Tab went back to the prompt visited last (↑, then Esc) even after
    new replies: the message Tab returns to holds only while nothing newer came."""
    chat = tree_chat(STRAIGHT, "a2")
    server.script(CHAT, sse_reply(["the new reply"]))
    async with running(LaunchOptions(resume_id=chat.id)) as (app, pilot):
        await shown(pilot, ["u1", "a1", "u2", "a2"])
        await until_idle(pilot)
        await pilot.press("shift+tab")
        await wait_until(pilot, lambda: app.focused is views(app)[3], what="the last reply")
        await pilot.press("up")
        await wait_until(pilot, lambda: app.focused is views(app)[2], what="the last prompt")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.focused is app.chat.prompt, what="the prompt")
        # Nothing newer yet: Shift+Tab goes back to the message visited last.
        await pilot.press("shift+tab")
        await wait_until(pilot, lambda: app.focused is views(app)[2], what="that prompt again")
        await pilot.press("escape")
        app.chat.prompt.insert("next")
        await pilot.press("enter")
        await until_idle(pilot)
        await wait_until(pilot, lambda: views(app)[-1].body_text == "the new reply", what="it")
        await pilot.press("shift+tab")
        await wait_until(pilot, lambda: app.focused is views(app)[-1],
                         what=f"the new reply, not the old prompt ({app.focused!r})")
