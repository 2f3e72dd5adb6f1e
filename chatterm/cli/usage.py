"""`chatterm usage`: what the replies cost, per day, model or provider, with totals."""

from __future__ import annotations

import argparse
import datetime as dt

from chatterm.cli.common import open_store
from chatterm.cli.output import Out, note


def run_usage(args: argparse.Namespace) -> int:
    from chatterm import usage_text

    since = usage_text.parse_since(args.since) if args.since else None
    with open_store(read_only=True) as store:
        report = store.usage(by=args.by, since=since)
    out = Out()
    if args.json:
        out.json({
            "by": report.by,
            "since": None if since is None else dt.datetime.fromtimestamp(since).isoformat(),
            "groups": [{report.by: line.key, **line.to_dict()} for line in report.lines],
            "total": report.total.to_dict(),
        })
        return 0
    if not report.lines:
        out.line("no replies saved" if since is None
                 else f"no replies {usage_text.since_label(since)}")
        return 0
    for line in usage_text.table(report):
        out.line(line)
    explained = usage_text.cost_note(report.total)
    if explained:
        note(explained)
    return 0
