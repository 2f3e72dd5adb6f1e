"""The SQLite conversation store (see store.py for positions and search semantics)."""

from chatterm.store.store import Store

__all__ = ["Store"]
