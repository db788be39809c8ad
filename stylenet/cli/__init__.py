"""The ``stylenet`` command (also ``python -m stylenet``): one module per command."""

from .main import build_parser, main, parse_style_image

__all__ = ["build_parser", "main", "parse_style_image"]
