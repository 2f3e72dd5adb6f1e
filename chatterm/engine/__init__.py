"""The headless chat engine: the one owner of the open conversation.

`session.ChatSession` is what both front ends drive: every change to a conversation
goes through it. A conversation is a tree: `branches` moves its current branch (switch,
flip, delete, fork, scroll-back), `versions` makes new versions (regenerate, retry, edit)
and continues a reply, `compare` sends one prompt to several models at once, `tool_loop`
runs the tool calls a reply ends with and asks the model again. `streaming`
streams one reply into its message, `events` is what a session reports, `writer` runs
every store write off the event loop in order, `attempts` says what a retry or continue
may change, `wire` gives the saved history as providers accept it, `pool` the shared
HTTP clients and `protocols` the typed seams.
"""
