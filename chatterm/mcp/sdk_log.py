"""Where the SDK's own log records go: a file in the log dir, never the terminal.

Python's last-resort handler prints WARNING and above to stderr when a logger has no
handler, which would draw over the app's screen (the SDK logs a server's broken pipe or
a failed parse that way). The records are kept in log_dir/mcp.sdk.log instead (a name
with a dot: no server's NAME.log can be it).
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

SDK_LOG = "mcp.sdk.log"


def quiet_sdk_logging(log_dir: Path) -> None:
    for name in ("mcp", "mcp_types", "httpx2", "chatterm.mcp"):
        logger = logging.getLogger(name)
        logger.propagate = False
        for old in [h for h in logger.handlers if getattr(h, "chatterm", False)]:
            logger.removeHandler(old)  # the last host's log dir wins
            old.close()
        handler: logging.Handler
        try:
            from chatterm.safe_write import ensure_private_dir

            ensure_private_dir(log_dir, tighten=False)
            handler = _PrivateFileHandler(log_dir / SDK_LOG)
            handler.setFormatter(
                logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        except OSError:
            handler = logging.NullHandler()
        setattr(handler, "chatterm", True)  # noqa: B010 - marks ours, to replace it later
        logger.addHandler(handler)


class _PrivateFileHandler(logging.FileHandler):
    """A FileHandler whose file is created 0600 (it opens it only at the first record)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8", delay=True)

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return os.fdopen(fd, "a", encoding="utf-8")
