"""Connection failures (before any answer arrived) put into one line a person can act on.

Each says what failed and whether sending again may help: a refused connection or an
unknown host will not fix itself in a second, a timeout or a dropped connection may.
"""

from __future__ import annotations

import socket
import ssl
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chatterm.providers import ProviderConfig

_DNS_WORDS = ("name or service not known", "nodename nor servname", "name resolution",
              "getaddrinfo failed", "no address associated", "host not found")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def describe(exc: Exception, p: ProviderConfig, shown_url: str) -> tuple[str, bool]:
    """(message, retryable) for an error raised before any answer arrived, naming the
    provider and its URL."""
    import httpx

    where = f"cannot reach {p.name} at {shown_url}"
    chain = _chain(exc)
    text = " ".join(str(e) for e in chain).lower()
    retryable = True
    if isinstance(exc, httpx.ConnectTimeout):
        reason = f"connection timed out after {p.connect_timeout:g} s"
    elif isinstance(exc, httpx.PoolTimeout):
        reason = f"no connection available after {p.connect_timeout:g} s"
    elif isinstance(exc, httpx.ReadTimeout):
        where = f"{p.name} at {shown_url} did not answer"
        reason = f"nothing arrived for {p.read_timeout:g} s"
        retryable = False  # the request may be running; do not pay for it twice
    elif any(isinstance(e, socket.gaierror) for e in chain) or any(
        w in text for w in _DNS_WORDS
    ):
        reason = "the host name could not be resolved"
        retryable = False
    elif any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text:
        # Nothing listens there: waiting a second or two will not start the server.
        reason = ("connection refused; no server is running at that address "
                  "(is it started, and is the port right?)")
        retryable = False
    elif any(isinstance(e, ssl.SSLError) for e in chain):
        reason = f"TLS failed ({exc})"
        retryable = False
    elif isinstance(exc, httpx.UnsupportedProtocol):
        reason = "base_url must start with http:// or https://"
        retryable = False
    elif isinstance(exc, httpx.LocalProtocolError):
        where = f"chatterm could not send the request to {p.name} at {shown_url}"
        reason = str(exc) or type(exc).__name__
        retryable = False
    elif isinstance(exc, httpx.RemoteProtocolError) and "without sending" not in text:
        # An answer came but is not HTTP as h11 accepts it: sending again will not fix it.
        where = f"{p.name} at {shown_url} sent an answer that is not valid HTTP"
        if "buffer too long" in text:
            reason = "its status line and headers are larger than 100 KiB"
        else:
            reason = str(exc)
        retryable = False
    elif isinstance(exc, httpx.RemoteProtocolError):
        reason = "the server closed the connection before an answer"
    elif isinstance(exc, httpx.ConnectError):
        reason = f"connection failed ({exc})"
    else:
        reason = f"the connection failed before an answer ({type(exc).__name__}: {exc})"
    return f"{where}: {reason}", retryable
