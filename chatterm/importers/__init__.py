"""Other programs' history, read into chatterm conversations: `detect(FILE)` says which
format a file is in (by what it holds, not by its name) and gives the reader for it.

Formats: chatterm's own export (JSON), ChatGPT's data export (`conversations.json` or the
export .zip), Claude's (`conversations.json` or its .zip), Elia's `elia.sqlite` and llm's
`logs.db`. Each source message keeps an id derived from the source's own, so importing a
file again finds what is already saved (see `common.stable_id`). Databases are opened
read-only. Nothing here writes to chatterm's store: the caller imports what `read`
returns, in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatterm.conversation import Conversation
from chatterm.errors import ImportFormatError
from chatterm.importers.common import Defaults, load_json

__all__ = ["EXPECTED", "Defaults", "Source", "detect"]

EXPECTED = ("a chatterm export (JSON), a ChatGPT or Claude data export "
            "(conversations.json or the export's .zip), Elia's elia.sqlite or llm's logs.db")



@dataclass(slots=True)
class Source:
    """A file in a known format: `kind` names it in messages ("a ChatGPT export")."""

    kind: str
    # chatterm's own export is imported as before (see transfer.parse_import); `data` is
    # its bytes. The other formats are read with the defaults a new chat would have.
    data: bytes | None = None
    reader: Callable[[Defaults], list[Conversation]] | None = None

    @property
    def is_chatterm(self) -> bool:
        return self.data is not None

    def read(self, defaults: Defaults) -> list[Conversation]:
        assert self.reader is not None
        return self.reader(defaults)


def detect(name: str, data: bytes | None = None) -> Source:
    """The format of the file `name` (or of `data`, read from stdin); ImportFormatError,
    in one line naming what was expected, when it is none of them. A folder is an
    unpacked data export."""
    from chatterm.importers import archives, sqlite_source

    if data is None:
        path = Path(name).expanduser()
        if path.is_dir():
            return _json_source(archives.from_folder(path, EXPECTED))
        with path.open("rb") as file:
            head = file.read(len(sqlite_source.MAGIC))
        if head == sqlite_source.MAGIC:
            return _database(path)
        data = path.read_bytes()
    elif data.startswith(sqlite_source.MAGIC):
        raise ImportFormatError("a database is read from its file, not from stdin: give "
                                "its path")
    if data.startswith(archives.ZIP_MAGIC):
        return _json_source(archives.from_zip(data, EXPECTED))
    start = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if not start:
        raise ImportFormatError(f"the file is empty; expected {EXPECTED}")
    if start not in (b"{", b"["):  # not JSON at all: say what would have been
        raise ImportFormatError(f"not a file chatterm can import; expected {EXPECTED}")
    return _json_source([("the file", data)])


def _json_source(files: list[tuple[str, bytes]]) -> Source:
    """The format of one JSON file, or of an export's conversation files together."""
    from chatterm.importers import chatgpt, claude

    docs: list[Any] = [load_json(data, what) for what, data in files]
    what = files[0][0] if len(files) == 1 else "the conversation files"
    doc = docs[0]
    if len(files) == 1 and isinstance(doc, dict) and "format" in doc:
        return Source("a chatterm export", data=files[0][1])
    if len(docs) > 1:  # a split export: the lists one after the other
        doc = []
        for (part, _), piece in zip(files, docs, strict=True):
            if isinstance(piece, dict) and isinstance(piece.get("conversations"), list):
                piece = piece["conversations"]
            if not isinstance(piece, list):
                raise ImportFormatError(f"{part} is not a list of conversations")
            doc.extend(piece)
    if chatgpt.looks_like(doc):
        return Source(chatgpt.NAME, reader=lambda defaults: chatgpt.read(doc, defaults))
    if claude.looks_like(doc):
        return Source(claude.NAME, reader=lambda defaults: claude.read(doc, defaults))
    if doc == [] or doc == {"conversations": []}:
        return Source("an export with no conversations", reader=lambda defaults: [])
    raise ImportFormatError(f"{what} is JSON in no format chatterm knows; expected "
                            f"{EXPECTED}")


def _database(path: Path) -> Source:
    from chatterm.importers import elia, llm_logs, sqlite_source

    conn = sqlite_source.open_read_only(path)
    found = sqlite_source.tables(conn)
    if elia.looks_like(found):
        return Source(elia.NAME, reader=_closing(conn, lambda d: elia.read(conn, d)))
    if llm_logs.looks_like(found):
        return Source(llm_logs.NAME,
                      reader=_closing(conn, lambda d: llm_logs.read(conn, d, found)))
    conn.close()
    names = ", ".join(sorted(found)[:6]) or "no tables"
    if (path.name == "chatterm.db" or "conversations" in found) and "messages" in found:
        raise ImportFormatError("a chatterm database, not an export: export a "
                                "conversation with `chatterm export ID --format json`")
    raise ImportFormatError(f"an SQLite database chatterm cannot import (it holds "
                            f"{names}); expected {EXPECTED}")


def _closing(conn: Any, read: Callable[[Defaults], list[Conversation]]
             ) -> Callable[[Defaults], list[Conversation]]:
    def run(defaults: Defaults) -> list[Conversation]:
        try:
            return read(defaults)
        finally:
            conn.close()
    return run
