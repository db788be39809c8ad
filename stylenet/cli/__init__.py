"""The ``stylenet`` command (also ``python -m stylenet``): one module per command, each with its
arguments (``add_parser``) and its run (``run``); ``main`` assembles them."""

from .common import parse_style_image
from .main import build_parser, main

__all__ = ["build_parser", "main", "parse_style_image"]
