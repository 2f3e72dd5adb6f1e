"""`chatterm` with no command: the full-screen app, imported only now."""

from __future__ import annotations

import argparse
import gc


def open_tui(args: argparse.Namespace) -> int:
    # Start-up creates tens of thousands of objects that live as long as the app
    # (Textual's modules and classes, the parsed CSS). Importing Textual alone sets off
    # ~80 collections (~16 ms here) that free almost nothing. The app turns collection
    # back on once the first frame is drawn (ChattermApp._warm_up).
    gc.disable()
    try:
        from chatterm.launch import LaunchOptions

        options = LaunchOptions(
            provider=args.provider,
            model=args.model,
            continue_last=args.continue_last,
            resume_id=args.resume,
        )
        from chatterm.ui.app import run_app

        return run_app(options)
    finally:
        gc.enable()
