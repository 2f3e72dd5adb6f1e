"""`chatterm ask -a FILE` / `--attach FILE` (repeatable): the files and images sent with the
prompt, all read and checked before anything is opened, sent or saved.

`-a -` reads one attachment from stdin; the prompt must then be in the arguments (stdin
cannot be both). An image for a model not known to take images (chatterm.vision) is
warned about on stderr and sent all the same: catalogs lag behind providers.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from chatterm.attach_files import check_count, load_bytes, load_file
from chatterm.cli.output import warn
from chatterm.errors import UsageError

if TYPE_CHECKING:
    from chatterm.attachments import PendingAttachment
    from chatterm.config import Config

STDIN_NAME = "stdin"


def stdin_taken(args: argparse.Namespace) -> bool:
    """True when `-a -` reads stdin (so the prompt may not)."""
    return "-" in getattr(args, "attach", [])


def load_attachments(args: argparse.Namespace, config: Config) -> list[PendingAttachment]:
    """Every -a, loaded and checked against [attachments]; AttachmentError/UsageError."""
    paths: list[str] = getattr(args, "attach", [])
    if not paths:
        return []
    limits = config.attachments
    check_count(len(paths), limits)
    if paths.count("-") > 1:
        raise UsageError("-a - (an attachment from stdin) can be given only once")
    if "-" in paths and ("-" in args.prompt or not args.prompt):
        raise UsageError("-a - reads the attachment from stdin, so the prompt cannot come "
                         "from there too: give the prompt as arguments")
    loaded = []
    for path in paths:
        if path == "-":
            loaded.append(load_bytes(_stdin_bytes(limits.max_image_bytes,
                                                  limits.max_text_bytes), STDIN_NAME, limits))
        else:
            loaded.append(load_file(path, limits))
    return loaded


def _stdin_bytes(*limits: int) -> bytes:
    stdin = sys.stdin
    if stdin is None or stdin.isatty():
        raise UsageError("-a - reads the attachment from stdin, which is a terminal here: "
                         "pipe the file in (ask -a - PROMPT < FILE)")
    # One byte past the larger limit is enough to say it is too big.
    return stdin.buffer.read(max(limits) + 1)


def warn_if_blind(provider: str, model: str, attachments: list[PendingAttachment]) -> None:
    """One stderr line when images go to a model not known to take them."""
    images = [blob.meta.name for blob in attachments if blob.meta.kind == "image"]
    if not images:
        return
    from chatterm.vision import takes_images

    known = takes_images(provider, model)
    if known is True:
        return
    said = ("takes no images, says the catalog" if known is False
            else "is not known to take images")
    warn(f"warning: {model} ({provider}) {said}; sending {', '.join(images)} anyway "
         "(catalogs lag behind providers)")
