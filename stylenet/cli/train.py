"""``stylenet train``: the Hydra training app (the [train] extra); every argument is Hydra's."""

from __future__ import annotations

import argparse

from ..errors import StylenetError
from .common import EXIT_OK

NAME = "train"
HELP = "train a style (Hydra overrides; needs the [train] extra)"
DESCRIPTION = (
    "Train a style network: stylenet train style=mosaic [group=option ...] [key=value ...]; -m sweeps. "
    "The same app as scripts/train.py; the configs ship inside the package."
)
ADD_HELP = False  # every argument is Hydra's, --help too


def add_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("overrides", nargs=argparse.REMAINDER, help="Hydra overrides (--help: Hydra's help)")


def run(a: argparse.Namespace) -> int:
    try:
        from ..training.app import main as train_main
    except ImportError as e:
        raise StylenetError(
            f"training needs the [train] extra ({e.name} is missing): pip install 'stylenet[train]'"
        ) from None
    train_main(a.overrides, prog="stylenet train")
    return EXIT_OK
