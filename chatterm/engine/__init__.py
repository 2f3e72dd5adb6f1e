"""The headless chat engine: the open conversation, its replies streamed into the store.

`session.ChatSession` is the one owner of a conversation both front ends drive;
`events` is what it reports, `attempts` what a retry or continue may change, `wire`
the saved history as providers accept it, `pool` the shared HTTP clients and
`protocols` the typed seams.
"""
