"""Where the SDK's own log records go: a file in the log dir, never the terminal.

Python's last-resort handler prints WARNING and above to stderr when a logger has no
handler, which would draw over the app's screen (the SDK logs a server's broken pipe or
a failed parse that way). The records are kept in log_dir/mcp.sdk.log instead (a name
with a dot: no server's NAME.log can be it).
"""

from __future__ import annotations

import logging
from pathlib import Path

SDK_LOG = "mcp.sdk.log"


def quiet_sdk_logging(log_dir: Path) -> None:
    for name in ("mcp", "mcp_types", "httpx2"):
        logger = logging.getLogger(name)
        logger.propagate = False
        if any(getattr(handler, "chatterm", False) for handler in logger.handlers):
            continue
        handler: logging.Handler
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(log_dir / SDK_LOG, encoding="utf-8", delay=True)
            handler.setFormatter(
                logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        except OSError:
            handler = logging.NullHandler()
        setattr(handler, "chatterm", True)  # noqa: B010 - marks ours, so it is added once
        logger.addHandler(handler)
