"""A saved tool exchange, built with the store API as the engine's tool loop saves one
(chatterm/toolbox.py's docstring): a prompt, a reply ending in tool calls, one tool
message per call chained in the order results came (provider = server, model = tool,
finish_reason = outcome), then the model's next reply below the last tool message."""

from __future__ import annotations

from chatterm.conversation import Conversation, Message, MessageState, Role, ToolCall
from chatterm.store import Store

# OpenAI-style ids, as an OpenAI-compatible model makes them (Mistral refuses them).
CALL_TOKYO = "call_Tq3xWv8bN2mYk7LpR4sZ0aEd"
CALL_PARIS = "call_9HfGm2KcXbV6nJ1wQ5tY8rUo"
CALL_WIKI = "call_Zz1Yy2Xx3Ww4Vv5Uu6Tt7Ss8Rr"
ESC_RESULT = "evil \x1b]52;c;aGVsbG8=\x07clipboard \x1b[2Jcleared"
TOKYO_RESULT = '{\n  "timezone": "Asia/Tokyo",\n  "datetime": "2026-12-02T14:51:36+09:00"\n}'
LONG_RESULT = "\n".join(f"line {n} of the page about quokkas" for n in range(1, 16))


def tool_exchange(*, provider: str = "test", model: str = "test-model",
                  title: str = "Time zones") -> Conversation:
    """Save and return a conversation holding a whole tool exchange:

    user -> assistant(3 calls: Tokyo, Paris, wiki) -> tool ok (Tokyo) -> tool declined
    (Paris) -> tool error (wiki, its text has escape sequences; 15 lines) -> assistant.
    """
    conv = Conversation(provider=provider, model=model, title=title)
    t = 1_764_000_000.0

    def msg(role: Role, content: str = "", parent: Message | None = None, **kw: object
            ) -> Message:
        message = Message(role=role, content=content, conversation_id=conv.id,
                          parent_id=parent.id if parent else None,
                          created_at=t + len(conv.messages), **kw)  # type: ignore[arg-type]
        conv.messages.append(message)
        return message

    prompt = msg(Role.USER, "What time is it in Tokyo and Paris? And what is a quokka?")
    calls = msg(Role.ASSISTANT, "", prompt, provider=provider, model=model,
                finish_reason="tool_calls", tool_calls=[
                    ToolCall(CALL_TOKYO, "get_current_time", '{"timezone": "Asia/Tokyo"}'),
                    ToolCall(CALL_PARIS, "get_current_time",
                             '{"timezone":"Europe/Paris"}'),
                    ToolCall(CALL_WIKI, "wiki__lookup", '{"page": "Quokka \\u00e9t\\u00e9"}'),
                ])
    tokyo = msg(Role.TOOL, TOKYO_RESULT, calls, provider="time", model="get_current_time",
                finish_reason="ok", tool_call_id=CALL_TOKYO)
    paris = msg(Role.TOOL, "The user declined to run this tool call.", tokyo,
                provider="time", model="get_current_time", finish_reason="declined",
                tool_call_id=CALL_PARIS, error="declined")
    wiki = msg(Role.TOOL, ESC_RESULT + "\n" + LONG_RESULT, paris, provider="wiki",
               model="lookup", finish_reason="error", tool_call_id=CALL_WIKI,
               error="wiki: the server stopped (exit code 1)", state=MessageState.COMPLETE)
    msg(Role.ASSISTANT, "It is 23:51 in Tokyo. I could not look up quokkas.", wiki,
        provider=provider, model=model, finish_reason="stop")
    conv.current_id = conv.messages[-1].id
    with Store.open() as store:
        store.create_conversation(conv)
    return conv
