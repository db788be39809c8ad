"""``stylenet install``: a trained weights file into the cache, under a name."""

from __future__ import annotations

import argparse

from .common import EXIT_OK

NAME = "install"
HELP = "install a weights file as a named style"
DESCRIPTION = "Copy weights into $STYLENET_HOME."


def add_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("weights", help="an exported .safetensors weights file")
    s.add_argument("--name", help="style name (default: the style named in the file's card)")
    s.add_argument("--overwrite", action="store_true", help="replace an installed style of that name")


def run(a: argparse.Namespace) -> int:
    from ..styles.install import install

    s = install(a.weights, a.name, a.overwrite)
    if s.takes_painting:
        use = f"stylenet.stylize(photo, style_image='painting.jpg', network={s.name!r}) or --style-image painting.jpg"
        print(f"installed {s.name} -> {s.file}; use {use} --network {s.name}")
    else:
        print(f"installed {s.name} -> {s.file}; use stylenet.load({s.name!r}) or --style {s.name}")
    return EXIT_OK
