"""`chatterm doctor`: an integrity check, then a recovered copy when the check fails."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from chatterm.cli.output import Out, note
from chatterm.errors import ChattermError, UsageError


def run_doctor(args: argparse.Namespace) -> int:
    from chatterm import locations
    from chatterm.store import doctor
    from chatterm.store.files import looks_like_sqlite

    path = locations.database_file()
    out = Out()
    if not path.exists():
        out.line(f"no database at {path} yet; nothing to check")
        return 0
    try:
        if not path.is_file() or not looks_like_sqlite(path):
            raise ChattermError(f"{path} is not an SQLite file; there is nothing chatterm "
                                "can recover from it")
    except OSError as exc:
        raise ChattermError(f"cannot read {path}: {exc.strerror or exc}") from exc
    out.line(f"checking {path}")
    problems = doctor.check(path)
    if problems == ["ok"] and not args.recover:
        out.line("integrity check: ok — nothing to recover")
        return 0
    if problems != ["ok"]:
        out.line(f"integrity check: {len(problems)} problem(s)"
                 + (" (the first ones)" if len(problems) >= doctor.MAX_PROBLEMS else ""))
        for problem in problems[:5]:
            out.line(f"  {problem}")
    else:
        out.line("integrity check: ok (a copy was asked for)")
    target = _target(args.output, path)
    try:
        result = doctor.recover(path, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            target.unlink()
        if isinstance(exc, ChattermError):
            raise
        if isinstance(exc, Exception):
            raise ChattermError(f"recovery failed ({exc}); {path} was left untouched") from exc
        raise
    out.line(f"recovered {result.conversations} conversation(s) and {result.messages} "
             f"message(s) into {target}")
    if result.unreadable_rows or result.lost_texts or result.placeholders:
        out.line(f"  lost: {result.unreadable_rows} unreadable row(s); "
                 f"{result.lost_texts} message text(s) could not be read (marked in the "
                 f"message); {result.placeholders} conversation(s) lost their title")
    out.line(f"{path} was left untouched. To use the copy: "
             f"mv {path} {path}.damaged && mv {target} {path}")
    return 1 if problems != ["ok"] else 0


def _target(output: str | None, path: Path) -> Path:
    from chatterm.store import doctor
    from chatterm.store.files import create_private_file

    if output is None:
        return doctor.free_name(path)
    target = Path(output).expanduser()
    if target.resolve() == path.resolve():
        raise UsageError("the recovered copy must go to a new file, not over the database")
    try:
        if not create_private_file(target):
            raise UsageError(f"{target} already exists; name a new file")
    except OSError as exc:
        raise ChattermError(f"cannot create {target}: {exc.strerror or exc}") from exc
    note(f"writing the recovered copy to {target}")
    return target
