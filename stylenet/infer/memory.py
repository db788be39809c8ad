"""Where a forward pass's freed activations go: glibc's allocator policy for the command line.

A forward pass allocates and frees hundreds of megabytes of activations. By default glibc
serves blocks over its mmap threshold (128 KB, raised as blocks are freed, at most 32 MB)
with fresh mappings and unmaps them when freed, so their pages fault in, zeroed by the
kernel, on every call: 126,635 page faults a repeated 640x640 fp32 pass of the Johnson
network (tests/test_memory.py, Zen 4 machine).

* ``keep_freed_memory()``: no mappings, freed memory stays in the heap for the next layer
  and the next image (video frames, a folder of photos, repeated calls): no faults in that
  test. The process keeps its high-water mark of memory.
* ``return_freed_memory()``: a fixed 4 MB threshold, freed blocks go back to the OS at once:
  peak memory stays low when a large photo is tiled, at the cost of the faults.

The library itself never changes the allocator: ``stylenet stylize`` and ``stylenet video``
choose ``keep``, and tiling (``bounded()``, around ``stylize_tiled``) switches to ``return``
for its duration. glibc only (``mallopt``); elsewhere (macOS, musl, Windows) these are no-ops and
``available()`` is False. Measured by
``stylenet bench inference --keep-freed-memory`` (docs/performance.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

Policy = Literal["keep", "return", "glibc"]

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_MMAP_MAX = -1, -3, -4  # glibc's <malloc.h>
_TRIM_NEVER = 2**31 - 1  # bytes of free heap top before glibc trims it (mallopt takes an int)
_policy: Policy | None = None  # None: never changed (glibc's own sliding policy)
_lock = threading.Lock()
_tiling = 0  # bounded() blocks running (threads) while the process keeps freed memory


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 (glibc has both; musl and macOS do not)
    except (OSError, AttributeError):
        return None
    return libc


def available() -> bool:
    """Whether this process's C library is glibc, whose allocator these functions set."""
    return _libc() is not None


def _apply(policy: Policy) -> bool:
    if policy not in ("keep", "return", "glibc"):
        raise ValueError(f"unknown allocator policy {policy!r}; expected 'keep', 'return' or 'glibc'")
    libc = _libc()
    if libc is None:
        return False
    if policy == "keep":
        libc.mallopt(M_MMAP_MAX, 0)
        libc.mallopt(M_TRIM_THRESHOLD, _TRIM_NEVER)
        return True
    # return: 4 MB; glibc: where its own sliding threshold settles once large blocks have been
    # freed (the largest freed block up to 32 MB; trimming at twice that)
    threshold = 4 << 20 if policy == "return" else 32 << 20
    libc.mallopt(M_MMAP_MAX, 65536)  # glibc's default
    libc.mallopt(M_MMAP_THRESHOLD, threshold)
    libc.mallopt(M_TRIM_THRESHOLD, threshold if policy == "return" else 2 * threshold)
    libc.malloc_trim(0)  # what the heap holds now goes back too
    return True


def _set(policy: Policy) -> None:
    global _policy
    if _apply(policy):
        _policy = policy


def keep_freed_memory() -> None:
    """Keep freed memory in the heap for reuse (fast repeated forward passes)."""
    _set("keep")


def return_freed_memory() -> None:
    """Return freed blocks over 4 MB to the OS at once (low peak memory)."""
    _set("return")


def glibc_defaults() -> None:
    """A fixed 32 MB mmap threshold and 64 MB trim threshold: where glibc's own sliding threshold
    settles once a few forward passes have freed large blocks (for ``stylenet bench``'s plain paths
    in a run whose stylenet paths keep freed memory). The sliding itself cannot be restored: any
    ``mallopt`` call turns it off for the life of the process."""
    _set("glibc")


def set_policy(policy: Policy | None) -> None:
    """Back to ``policy`` as returned by ``policy()`` earlier (None: the ``glibc`` stand-in, if changed since)."""
    if policy is not None:
        _set(policy)
    elif _policy is not None:
        _set("glibc")


def policy() -> Policy | None:
    """``"keep"``, ``"return"``, ``"glibc"`` (``glibc_defaults()``), or None (never changed)."""
    return _policy


@contextmanager
def bounded() -> Iterator[None]:
    """Return freed memory within this block if the process keeps it, then keep it again.

    Thread-safe: while several threads tile at once, memory is returned until the last one leaves."""
    global _tiling
    with _lock:
        active = _policy == "keep" or _tiling > 0
        if active:
            if _tiling == 0:
                return_freed_memory()
            _tiling += 1
    if not active:
        yield
        return
    try:
        yield
    finally:
        with _lock:
            _tiling -= 1
            if _tiling == 0:
                keep_freed_memory()
