"""The conversation files inside a data export's .zip, or its unpacked folder.

ChatGPT and Claude exports hold `conversations.json`; since early 2026 a large ChatGPT
export splits it into `conversations-000.json`, `conversations-001.json`, … (each a list
of conversations). Every such file at the shallowest level holding one is read, in name
order. What is unpacked is bounded, so a hostile archive cannot fill memory.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path, PurePosixPath

from chatterm.errors import ImportFormatError

ZIP_MAGIC = b"PK\x03\x04"
# A data export's conversation files can be large, but not this large.
MAX_UNPACKED = 2 << 30
_NAME = re.compile(r"conversations(-\d+)?\.json")


def _chosen(names: list[str]) -> list[str]:
    """The conversation files among `names` (paths with '/'), shallowest level only."""
    found = [name for name in names if _NAME.fullmatch(PurePosixPath(name).name)]
    if not found:
        return []
    depth = min(name.count("/") for name in found)
    return sorted(name for name in found if name.count("/") == depth)


def from_zip(data: bytes, expected: str) -> list[tuple[str, bytes]]:
    """(what to call it in a message, its bytes) for each conversation file."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = {info.filename: info for info in archive.infolist() if not info.is_dir()}
            chosen = _chosen(list(infos))
            if not chosen:
                raise ImportFormatError(f"the .zip holds no conversations.json; expected "
                                        f"{expected}")
            found, total = [], 0
            for name in chosen:
                with archive.open(infos[name]) as file:
                    unpacked = file.read(MAX_UNPACKED - total + 1)
                total += len(unpacked)
                if total > MAX_UNPACKED:
                    raise ImportFormatError(f"the .zip unpacks to more than "
                                            f"{MAX_UNPACKED >> 30} GiB of conversations")
                found.append((f"{name} in the .zip", unpacked))
            return found
    except (zipfile.BadZipFile, EOFError, NotImplementedError, ValueError) as exc:
        raise ImportFormatError(f"the .zip is damaged ({exc}); expected a ChatGPT or Claude "
                                "data export .zip") from None


def from_folder(folder: Path, expected: str) -> list[tuple[str, bytes]]:
    """The conversation files of an unpacked export (the folder or one below it)."""
    names = [path.relative_to(folder).as_posix()
             for path in folder.rglob("conversations*.json") if path.is_file()]
    chosen = _chosen(names)
    if not chosen:
        raise ImportFormatError(f"a folder without conversations.json; expected {expected}")
    return [(name, (folder / name).read_bytes()) for name in chosen]
