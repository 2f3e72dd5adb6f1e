"""The SQLite conversation store (see messages.py for positions, search.py for search)."""

from chatterm.store.store import Store

__all__ = ["Store"]
