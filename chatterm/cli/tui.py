"""`chatterm` with no command: the full-screen app, imported only now."""

from __future__ import annotations

import argparse


def open_tui(args: argparse.Namespace) -> int:
    from chatterm.ui.launch import LaunchOptions

    options = LaunchOptions(
        provider=args.provider,
        model=args.model,
        continue_last=args.continue_last,
        resume_id=args.resume,
    )
    from chatterm.ui.app import run_app

    return run_app(options)
