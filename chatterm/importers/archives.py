"""The conversation files inside a data export's .zip, or its unpacked folder.

ChatGPT and Claude exports hold `conversations.json`; since early 2026 a large ChatGPT
export splits it into `conversations-000.json`, `conversations-001.json`, … (each a list
of conversations). Every such file at the shallowest level holding one is read, in name
order; files at that level in two different folders are two exports, and are refused
rather than mixed. A folder is searched at its top and one level below only (`chatterm
import ~/Downloads` must not read every export under it). What is unpacked is bounded, so
a hostile archive cannot fill memory.
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


def _chosen(names: list[str], where: str) -> list[str]:
    """The conversation files among `names` (paths with '/'), shallowest level only.

    One export's files sit in one folder; the same level in two folders (`chatgpt/` and
    `claude/`) is two exports, and reading them together would mix two formats into one
    confusing error, so the user is asked to pick one."""
    found = [name for name in names if _NAME.fullmatch(PurePosixPath(name).name)]
    if not found:
        return []
    depth = min(name.count("/") for name in found)
    chosen = sorted(name for name in found if name.count("/") == depth)
    folders = sorted({str(PurePosixPath(name).parent) for name in chosen})
    if len(folders) > 1:
        shown = ", ".join(f"{folder}/" for folder in folders[:3])
        more = f" and {len(folders) - 3} more" if len(folders) > 3 else ""
        raise ImportFormatError(f"{where} holds {len(folders)} exports ({shown}{more}); "
                                f"import one of them")
    return chosen


def from_zip(data: bytes, expected: str) -> list[tuple[str, bytes]]:
    """(what to call it in a message, its bytes) for each conversation file."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = {info.filename: info for info in archive.infolist() if not info.is_dir()}
            chosen = _chosen(list(infos), "the .zip")
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
    # Not rglob: a folder such as ~/Downloads or /tmp may hold other exports (or other
    # programs' data) any depth down; an unpacked export is the folder or one inside it.
    paths = [*folder.glob("conversations*.json"), *folder.glob("*/conversations*.json")]
    names = [path.relative_to(folder).as_posix() for path in paths if path.is_file()]
    chosen = _chosen(names, "the folder")
    if not chosen:
        raise ImportFormatError(f"a folder without conversations.json; expected {expected}")
    return [(name, (folder / name).read_bytes()) for name in chosen]
