"""The headless chat engine: the one owner of the open conversation.

`session.ChatSession` is what both front ends drive: every change to a conversation
goes through it. `streaming` streams one reply into its message, `events` is what a
session reports, `writer` runs every store write off the event loop in order,
`attempts` says what a retry or continue may change, `wire` gives the saved history as
providers accept it, `pool` the shared HTTP clients and `protocols` the typed seams.
"""
