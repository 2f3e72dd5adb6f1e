"""Branches in the app: the tree view (palette and Ctrl+T) jumps to any branch, "Fork chat
here" opens a new chat, Delete on a message removes its subtree after a confirm, a
search hit on another branch opens that branch, and continue/retry act on whichever
branch is current. The real app, a real store, the loopback server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from loopback import sse_reply
from ui_helpers import running, screen_text, wait_until

from chatterm.conversation import Conversation, Message, MessageState, Role
from chatterm.launch import LaunchOptions
from chatterm.store import Store

pytestmark = pytest.mark.slow

CHAT = "chat/completions"


def seed_tree(*, interrupted_dogs: bool = False) -> tuple[str, dict[str, str]]:
    """tell me a joke -> [cats -> another one -> owls] | [dogs -> explain -> loyal];
    the cats branch is current. Returns the conversation id and the ids by name."""
    conversation = Conversation(provider="loop", model="model-a", title="jokes")
    ids: dict[str, str] = {}

    def add(name: str, role: Role, text: str, parent: str | None, **extra: Any) -> None:
        message = Message(role=role, content=text, conversation_id=conversation.id,
                          parent_id=ids[parent] if parent else None,
                          model="model-a" if role is Role.ASSISTANT else None,
                          provider="loop" if role is Role.ASSISTANT else None, **extra)
        conversation.messages.append(message)
        ids[name] = message.id

    add("joke", Role.USER, "tell me a joke", None)
    add("cats", Role.ASSISTANT, "a joke about cats", "joke")
    add("another", Role.USER, "another one", "cats")
    add("owls", Role.ASSISTANT, "a joke about owls", "another")
    add("dogs", Role.ASSISTANT, "a joke about dogs", "joke")
    add("explain", Role.USER, "explain the dog joke", "dogs")
    if interrupted_dogs:
        add("loyal", Role.ASSISTANT, "dogs are loy", "explain",
            state=MessageState.INTERRUPTED)
    else:
        add("loyal", Role.ASSISTANT, "dogs are loyal", "explain")
    conversation.current_id = ids["owls"]
    with Store.open() as store:
        store.create_conversation(conversation)
    return conversation.id, ids


def saved(conversation_id: str) -> Conversation:
    with Store.open() as store:
        return store.get_conversation(conversation_id)


def saved_tree(conversation_id: str) -> Conversation:
    with Store.open() as store:
        return store.get_tree(conversation_id)


def shown(app: Any) -> list[str]:
    return [view.message.content for view in app.chat.message_list.views()
            if view.message.content]


async def palette(app: Any, pilot: Any, command: str) -> None:
    from textual.command import CommandPalette

    await pilot.press("ctrl+p")
    await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), what="the palette")
    await pilot.press(*command.lower())
    await wait_until(pilot, lambda: command in screen_text(app), what=f"the {command} command")
    await pilot.press("enter")


async def focus_message(app: Any, pilot: Any, message_id: str) -> Any:
    view = app.chat.message_list.view_for_id(message_id)
    assert view is not None
    await pilot.click(view, offset=(4, 0))
    await wait_until(pilot, lambda: app.focused is view, what="the message focused")
    return view


async def jump_in_tree(app: Any, pilot: Any, message_id: str) -> None:
    """Ctrl+T, the cursor to `message_id`'s line with ↑/↓, Enter."""
    from chatterm.ui.branches.tree_screen import TreeScreen

    await pilot.press("ctrl+t")
    await wait_until(pilot, lambda: isinstance(app.screen, TreeScreen), what="the tree")
    tree = app.screen.branch_tree
    target = tree.line_of(message_id)
    assert target is not None
    while tree.cursor != target:
        await pilot.press("down" if tree.cursor < target else "up")
    await pilot.press("enter")
    await wait_until(pilot, lambda: not isinstance(app.screen, TreeScreen), what="the chat")


# ---- the tree view ------------------------------------------------------------------------


async def test_the_tree_view_jumps_to_another_branch_and_the_choice_is_saved(
        server: Any) -> None:
    from chatterm.ui.branches.tree_screen import TreeScreen

    conversation_id, ids = seed_tree()
    async with running(LaunchOptions(resume_id=conversation_id), size=(120, 40)) as (app,
                                                                                    pilot):
        await wait_until(pilot, lambda: "a joke about owls" in screen_text(app),
                         what="the current branch")
        assert "a joke about dogs" not in screen_text(app)
        await palette(app, pilot, "Show the conversation tree")
        await wait_until(pilot, lambda: isinstance(app.screen, TreeScreen), what="the tree")
        tree = app.screen.branch_tree
        await wait_until(pilot, lambda: "dogs are loyal" in screen_text(app),
                         what="every branch drawn")
        assert "7 messages · 2 branches" in screen_text(app)
        assert tree.cursor_line.message_id == ids["owls"]  # where the chat is
        for _ in range(10):
            if tree.cursor_line.message_id == ids["dogs"]:
                break
            await pilot.press("down")
        assert tree.cursor_line.message_id == ids["dogs"]
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, TreeScreen),
                         what="back to the chat")
        await wait_until(pilot, lambda: shown(app) == [
            "tell me a joke", "a joke about dogs", "explain the dog joke", "dogs are loyal"],
            what="the dogs branch shown")
        # The chosen message is the one shown and focused, as a search hit is.
        await wait_until(pilot, lambda: getattr(app.focused, "message", None) is not None
                         and app.focused.message.id == ids["dogs"], what="the pick focused")
    assert saved(conversation_id).current_id == ids["loyal"]
    # Relaunched, the chat opens on the branch chosen.
    async with running(LaunchOptions(resume_id=conversation_id)) as (app, pilot):
        await wait_until(pilot, lambda: "dogs are loyal" in screen_text(app),
                         what="the saved branch")
        assert "a joke about owls" not in screen_text(app)


async def test_ctrl_t_opens_the_tree_and_esc_leaves_the_chat_as_it_was(server: Any) -> None:
    from chatterm.ui.branches.tree_screen import TreeScreen

    conversation_id, ids = seed_tree()
    async with running(LaunchOptions(resume_id=conversation_id), size=(40, 24)) as (app,
                                                                                   pilot):
        await wait_until(pilot, lambda: "a joke about owls" in screen_text(app),
                         what="the current branch")
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: isinstance(app.screen, TreeScreen), what="the tree")
        await wait_until(pilot, lambda: "2/2" in screen_text(app), what="the tree drawn")
        assert all(len(line) <= 40 for line in screen_text(app).splitlines())
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.focused is app.chat.prompt, what="the prompt")
        assert "a joke about owls" in screen_text(app)
    assert saved(conversation_id).current_id == ids["owls"]


# ---- forking ------------------------------------------------------------------------------


async def test_fork_chat_here_opens_a_new_chat_up_to_the_focused_message(
        server: Any) -> None:
    conversation_id, ids = seed_tree()
    async with running(LaunchOptions(resume_id=conversation_id), size=(120, 40)) as (app,
                                                                                    pilot):
        await wait_until(pilot, lambda: "a joke about owls" in screen_text(app),
                         what="the current branch")
        await focus_message(app, pilot, ids["cats"])
        await palette(app, pilot, "Fork chat here")
        await wait_until(pilot, lambda: app.chat.conversation.id != conversation_id,
                         what="the new chat open")
        fork_id = app.chat.conversation.id
        await wait_until(pilot, lambda: shown(app) == ["tell me a joke", "a joke about cats"],
                         what="the fork's messages")
        # The sidebar lists it, marked as the chat shown.
        sidebar = app.chat.sidebar
        await wait_until(pilot, lambda: sidebar is not None and sidebar.current_id == fork_id,
                         what="the sidebar on the fork")
        await wait_until(pilot, lambda: "● " in screen_text(app), what="the mark")
        # A prompt sent now goes to the fork, with its history only.
        server.script(CHAT, sse_reply(["a forked answer"]))
        app.chat.prompt.insert("and now?")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not app.chat.busy
                         and "a forked answer" in screen_text(app), what="the reply")
        sent = [m["content"] for m in server.requests[0].json["messages"]]
        assert sent == ["tell me a joke", "a joke about cats", "and now?"]
    fork = saved(fork_id)
    assert fork.title == "jokes (fork)"
    assert [m.content for m in fork.messages] == [
        "tell me a joke", "a joke about cats", "and now?", "a forked answer"]
    assert not {m.id for m in fork.messages} & set(ids.values())  # new ids
    # The original is untouched, every branch of it.
    assert len(saved_tree(conversation_id).messages) == 7
    assert saved(conversation_id).current_id == ids["owls"]


# ---- deleting a subtree -------------------------------------------------------------------


async def test_delete_on_a_message_asks_with_the_count_then_removes_its_subtree(
        server: Any) -> None:
    from chatterm.ui.dialogs.confirm import ConfirmDialog

    conversation_id, ids = seed_tree()
    async with running(LaunchOptions(resume_id=conversation_id), size=(120, 40)) as (app,
                                                                                    pilot):
        await wait_until(pilot, lambda: "a joke about owls" in screen_text(app),
                         what="the current branch")
        await focus_message(app, pilot, ids["cats"])
        await pilot.press("delete")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog),
                         what="the question")
        assert "everything below it, on every branch: 3 messages?" in app.screen.question
        await pilot.press("n")  # kept: nothing changes
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmDialog),
                         what="the answer")
        assert len(saved_tree(conversation_id).messages) == 7

        await focus_message(app, pilot, ids["cats"])
        await pilot.press("delete")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog),
                         what="the question")
        await pilot.press("y")
        # The other version takes its place, on its latest branch.
        await wait_until(pilot, lambda: shown(app) == [
            "tell me a joke", "a joke about dogs", "explain the dog joke", "dogs are loyal"],
            what="the remaining branch")
    tree = saved_tree(conversation_id)
    assert {m.id for m in tree.messages} == {ids[n] for n in ("joke", "dogs", "explain",
                                                               "loyal")}
    assert tree.current_id == ids["loyal"]


async def test_deleting_the_only_reply_leaves_the_prompt_and_a_usable_chat(
        server: Any) -> None:
    from chatterm.ui.dialogs.confirm import ConfirmDialog

    conversation = Conversation(provider="loop", model="model-a", title="short")
    prompt = Message(role=Role.USER, content="hello", conversation_id=conversation.id)
    reply = Message(role=Role.ASSISTANT, content="hi there", parent_id=prompt.id,
                    conversation_id=conversation.id, model="model-a", provider="loop")
    conversation.messages = [prompt, reply]
    with Store.open() as store:
        store.create_conversation(conversation)
    async with running(LaunchOptions(resume_id=conversation.id), size=(120, 40)) as (app,
                                                                                    pilot):
        await wait_until(pilot, lambda: "hi there" in screen_text(app), what="the chat")
        await focus_message(app, pilot, reply.id)
        await pilot.press("delete")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog),
                         what="the question")
        assert "Delete this reply (1 message)?" in app.screen.question
        await pilot.press("y")
        await wait_until(pilot, lambda: shown(app) == ["hello"], what="the reply gone")
    assert [m.id for m in saved(conversation.id).messages] == [prompt.id]


# ---- search hits on other branches --------------------------------------------------------


async def test_a_search_hit_on_another_branch_opens_that_branch(server: Any) -> None:
    conversation_id, ids = seed_tree()
    async with running(size=(120, 40)) as (app, pilot):
        await pilot.press("ctrl+f")
        await wait_until(pilot, lambda: app.chat.sidebar is not None, what="the sidebar")
        sidebar = app.chat.sidebar
        await wait_until(pilot, lambda: app.focused is sidebar.query_one("#sidebar-search"),
                         what="search focused")
        await pilot.press(*"loyal")
        await wait_until(pilot, lambda: sidebar.is_searching and sidebar.hit_count,
                         what="the hit")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.chat.conversation.id == conversation_id,
                         what="the hit's chat")
        await wait_until(pilot, lambda: shown(app) == [
            "tell me a joke", "a joke about dogs", "explain the dog joke", "dogs are loyal"],
            what="the hit's branch")
        view = app.chat.message_list.view_for_id(ids["loyal"])
        await wait_until(pilot, lambda: app.focused is view, what="the hit focused")
    assert saved(conversation_id).current_id == ids["loyal"]


async def test_a_hit_on_another_branch_of_the_chat_on_screen_switches_it_and_sends_there(
        server: Any) -> None:
    conversation_id, ids = seed_tree()
    server.script(CHAT, sse_reply(["good dog"]))
    async with running(LaunchOptions(resume_id=conversation_id), size=(120, 40)) as (app,
                                                                                    pilot):
        await wait_until(pilot, lambda: "a joke about owls" in screen_text(app),
                         what="the owls branch")
        await pilot.press("ctrl+f")
        await wait_until(pilot, lambda: app.chat.sidebar is not None, what="the sidebar")
        sidebar = app.chat.sidebar
        await wait_until(pilot, lambda: app.focused is sidebar.query_one("#sidebar-search"),
                         what="search focused")
        await pilot.press(*"explain")
        await wait_until(pilot, lambda: sidebar.is_searching and sidebar.hit_count,
                         what="the hit")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "dogs are loyal" in screen_text(app)
                         and "a joke about owls" not in screen_text(app),
                         what="the hit's branch")
        app.chat.prompt.focus()
        app.chat.prompt.insert("good boy?")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not app.chat.busy and "good dog" in screen_text(app),
                         what="the reply")
        sent = [m["content"] for m in server.requests[0].json["messages"]]
        assert sent == ["tell me a joke", "a joke about dogs", "explain the dog joke",
                        "dogs are loyal", "good boy?"]
    current = saved(conversation_id).messages
    assert current[-3].id == ids["loyal"] and current[-1].content == "good dog"


# ---- continue and retry on the current branch ---------------------------------------------


async def test_continue_and_retry_work_on_the_branch_jumped_to(server: Any) -> None:
    conversation_id, ids = seed_tree(interrupted_dogs=True)
    server.script(CHAT, sse_reply(["al to a fault"]))
    server.script(CHAT, sse_reply(["a regenerated answer"]))
    async with running(LaunchOptions(resume_id=conversation_id), size=(120, 40)) as (app,
                                                                                    pilot):
        await wait_until(pilot, lambda: "a joke about owls" in screen_text(app),
                         what="the current branch")
        # To the dogs branch through the tree view, then Ctrl+G continues its reply.
        await jump_in_tree(app, pilot, ids["dogs"])
        await wait_until(pilot, lambda: "dogs are loy" in screen_text(app)
                         and "a joke about owls" not in screen_text(app),
                         what="the dogs branch")
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: not app.chat.busy and len(server.requests) == 1
                         and "al to a fault" in screen_text(app), what="the continuation")
        sent = [m["content"] for m in server.requests[0].json["messages"]]
        assert "a joke about dogs" in sent and "a joke about owls" not in sent
        assert saved(conversation_id).messages[-1].content.startswith("dogs are loy")
        # Ctrl+R regenerates that branch's last reply as a new version of it.
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not app.chat.busy and len(server.requests) == 2
                         and "a regenerated answer" in screen_text(app), what="the retry")
        sent = [m["content"] for m in server.requests[1].json["messages"]]
        assert sent[-1] == "explain the dog joke" and "a joke about owls" not in sent
    current = saved(conversation_id)
    assert [m.content for m in current.messages] == [
        "tell me a joke", "a joke about dogs", "explain the dog joke", "a regenerated answer"]
    everything = [m.content for m in saved_tree(conversation_id).messages]
    # The continued reply stays as the other version; the owls branch is untouched.
    assert "dogs are loyal to a fault" in everything and "a joke about owls" in everything


async def test_deleting_the_first_prompt_empties_the_chat_and_the_next_prompt_lands_in_it(
        server: Any) -> None:
    from chatterm.ui.dialogs.confirm import ConfirmDialog

    conversation_id, ids = seed_tree()
    with Store.open() as store:
        conversation = store.get_conversation(conversation_id)
        conversation.system_prompt = "be brief"
        store.update_conversation(conversation)
    server.script(CHAT, sse_reply(["a fresh start"]))
    async with running(LaunchOptions(resume_id=conversation_id), size=(120, 40)) as (app,
                                                                                    pilot):
        await wait_until(pilot, lambda: "a joke about owls" in screen_text(app),
                         what="the current branch")
        # The system prompt's view is not a message of the tree: Del says so.
        from chatterm.ui.chat.message_view import SystemMessage

        system = app.chat.message_list.query_one(SystemMessage)
        system.focus()
        await wait_until(pilot, lambda: app.focused is system, what="the system prompt")
        await pilot.press("delete")
        await wait_until(pilot, lambda: any("not a message of the chat: F4 edits it"
                                            in str(n.message) for n in app._notifications),
                         what="the note")
        assert not isinstance(app.screen, ConfirmDialog)

        await focus_message(app, pilot, ids["joke"])
        await pilot.press("delete")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog),
                         what="the question")
        assert "Delete your prompt and everything below it, on every branch: 7 messages?" \
            in app.screen.question
        await pilot.press("y")
        await wait_until(pilot, lambda: shown(app) == ["be brief"], what="an empty chat")
        app.chat.prompt.insert("start again")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not app.chat.busy
                         and "a fresh start" in screen_text(app), what="the reply")
    assert app.chat.conversation.id == conversation_id
    assert [m.content for m in saved(conversation_id).messages] == [
        "start again", "a fresh start"]


async def test_the_footer_is_not_made_again_when_the_tree_view_opens_and_closes(
        server: Any) -> None:
    """Textual rebuilt the footer's ~30 keys at every push and pop of a screen, keys
    unchanged: a few hundred ms of the tree view's (or any dialog's) opening on a loaded
    host. It is rebuilt only when what it shows changes."""
    from chatterm.ui.branches.tree_screen import TreeScreen
    from chatterm.ui.compat import footer_key_type
    from chatterm.ui.widgets.key_footer import KeyFooter

    conversation_id, ids = seed_tree()
    async with running(LaunchOptions(resume_id=conversation_id), size=(120, 40)) as (app,
                                                                                    pilot):
        def keys() -> list[Any]:
            footers = app.chat.query(KeyFooter)
            return list(footers.first().query(footer_key_type())) if footers else []

        await wait_until(pilot, lambda: "^t Tree" in screen_text(app), what="the footer")
        before = keys()
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: isinstance(app.screen, TreeScreen), what="the tree")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.focused is app.chat.prompt, what="the chat")
        await pilot.pause()
        assert keys() == before  # the very same widgets
        # Other keys to show: it is made again (a focused message's keys come first).
        await focus_message(app, pilot, ids["owls"])
        await wait_until(pilot, lambda: "del Delete msg" in screen_text(app),
                         what="the message's keys")
        assert keys() != before


async def test_continue_and_retry_work_on_the_version_flipped_to(server: Any) -> None:
    """Two versions of the last reply: the shown one is complete, the other was stopped.
    ← on the reply flips to the stopped one; Ctrl+G continues it and Ctrl+R regenerates
    it, each with that branch's history, never the other version's."""
    conversation = Conversation(provider="loop", model="model-a", title="versions")
    prompt = Message(role=Role.USER, content="name a bird", conversation_id=conversation.id)
    stopped = Message(role=Role.ASSISTANT, content="the alba", parent_id=prompt.id,
                      conversation_id=conversation.id, model="model-a", provider="loop",
                      state=MessageState.INTERRUPTED)
    done = Message(role=Role.ASSISTANT, content="a sparrow", parent_id=prompt.id,
                   conversation_id=conversation.id, model="model-a", provider="loop")
    conversation.messages = [prompt, stopped, done]
    conversation.current_id = done.id
    with Store.open() as store:
        store.create_conversation(conversation)
    server.script(CHAT, sse_reply(["tross"]))
    server.script(CHAT, sse_reply(["a robin"]))
    async with running(LaunchOptions(resume_id=conversation.id), size=(120, 40)) as (app,
                                                                                    pilot):
        await wait_until(pilot, lambda: "a sparrow" in screen_text(app), what="the chat")
        await focus_message(app, pilot, done.id)
        await pilot.press("left")
        await wait_until(pilot, lambda: "the alba" in screen_text(app)
                         and "a sparrow" not in screen_text(app), what="the other version")
        app.chat.prompt.focus()
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: not app.chat.busy and len(server.requests) == 1
                         and "the albatross" in screen_text(app), what="the continuation")
        sent = [m["content"] for m in server.requests[0].json["messages"]]
        assert "a sparrow" not in " ".join(sent) and "the alba" in " ".join(sent)
        with Store.open() as store:
            assert store.get_conversation(conversation.id).messages[-1].content == \
                "the albatross"
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not app.chat.busy and len(server.requests) == 2
                         and "a robin" in screen_text(app), what="the regenerated reply")
        sent = [m["content"] for m in server.requests[1].json["messages"]]
        assert sent == ["name a bird"]
    tree = saved_tree(conversation.id)
    replies = sorted(m.content for m in tree.messages if m.role is Role.ASSISTANT)
    assert replies == ["a robin", "a sparrow", "the albatross"]  # nothing overwritten
    assert saved(conversation.id).messages[-1].content == "a robin"


async def test_the_apps_json_export_carries_every_branch_and_markdown_the_current_one(
        server: Any, tmp_path: Path) -> None:
    import json

    from chatterm.ui.dialogs.export import ExportDialog

    conversation_id, ids = seed_tree()
    async with running(LaunchOptions(resume_id=conversation_id)) as (app, pilot):
        for name, toggle in (("out.md", False), ("out.json", True)):
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: isinstance(app.screen, ExportDialog),
                             what="export dialog")
            if toggle:
                await pilot.press("ctrl+t")
            app.screen.query_one("#export-path").value = str(tmp_path / name)
            await pilot.press("enter")
            await wait_until(pilot, lambda n=name: (tmp_path / n).exists(), what=name)
    exported = json.loads((tmp_path / "out.json").read_text())
    assert exported["version"] == 2
    assert {m["id"] for m in exported["messages"]} == set(ids.values())
    assert exported["current_id"] == ids["owls"]
    markdown = (tmp_path / "out.md").read_text()
    assert "a joke about owls" in markdown and "a joke about dogs" not in markdown
