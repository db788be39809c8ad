"""Progress bars: one helper for every bar in the package.

On a terminal a bar redraws in place. Written to a pipe or a log (CI, ``nohup``,
``| tee``) every redraw would be a line of its own, so there a bar prints plain
lines, at most one every ``LOG_INTERVAL`` seconds (and its last state at the end).
"""

from __future__ import annotations

import sys

from tqdm.auto import tqdm

LOG_INTERVAL = 10.0  # seconds between two lines of a bar written to a pipe or a file


class _Lines:
    """A stream for tqdm that turns its carriage-return redraws into whole lines."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, s: str) -> None:
        s = s.replace("\r", "").strip("\n")
        if s.strip():
            self.stream.write(s + "\n")

    def flush(self) -> None:
        getattr(self.stream, "flush", lambda: None)()

    def isatty(self) -> bool:
        return False


def _is_tty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def progress_bar(iterable=None, *, disable: bool | None = False, **kwargs) -> tqdm:
    """``tqdm(iterable, **kwargs)`` on a terminal; elsewhere plain lines every ``LOG_INTERVAL``
    seconds. ``disable=None``: no bar at all unless the stream is a terminal (tqdm's meaning)."""
    stream = kwargs.pop("file", None) or sys.stderr
    if _is_tty(stream):
        return tqdm(iterable, file=stream, disable=disable, **kwargs)
    kwargs.update(mininterval=LOG_INTERVAL, maxinterval=max(LOG_INTERVAL, kwargs.get("maxinterval", 0)))
    kwargs.pop("dynamic_ncols", None)
    return tqdm(iterable, file=_Lines(stream), disable=True if disable is None else disable, ncols=100, **kwargs)
