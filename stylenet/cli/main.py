"""The ``stylenet`` command (also ``python -m stylenet``).

Exit status: 0 done; 2 bad usage or bad input (in a batch: some inputs failed,
the others were written); 1 internal error.
"""

from __future__ import annotations

import argparse
import sys
import traceback

from . import bench, evaluate, export, install, optimize, styles, stylize, train, video
from .common import EXIT_INTERNAL, STYLE_CHOICE, err
from .errors import report_errors

COMMANDS = (stylize, video, styles, install, export, optimize, evaluate, train, bench)  # in --help order


def build_parser() -> argparse.ArgumentParser:
    """The ``stylenet`` parser: a subcommand per module of ``COMMANDS``, with the module's arguments and run."""
    from .. import __version__

    p = argparse.ArgumentParser(prog="stylenet", description="Fast neural style transfer.")
    p.add_argument("--version", action="version", version=f"stylenet {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        s = sub.add_parser(
            command.NAME,
            help=command.HELP,
            description=command.DESCRIPTION,
            add_help=getattr(command, "ADD_HELP", True),
        )
        command.add_arguments(s)
        s.set_defaults(func=command.run)

    from ..web.cli import add_commands  # serve, export-web (the web stack is imported only when they run)

    add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["train"]:  # every argument is Hydra's, --help and -m included (argparse would take them)
        args = argparse.Namespace(func=train.run, overrides=argv[1:])
    else:
        parser = build_parser()
        args = parser.parse_args(argv)  # usage errors exit 2
        if args.command in ("stylize", "video") and bool(args.style) == bool(args.style_image):
            parser.exit(2, f"{parser.prog} {args.command}: error: {STYLE_CHOICE[bool(args.style)]}\n")
    try:
        with report_errors():
            return args.func(args)
    except SystemExit as e:
        return int(e.code or 0)
    except Exception:
        traceback.print_exc()
        err("internal error (the traceback above); please report it")
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
