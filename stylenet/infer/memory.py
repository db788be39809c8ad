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
for its duration. glibc only (``mallopt``); elsewhere these are no-ops. Measured by
``stylenet bench inference --keep-freed-memory`` (docs/performance.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Iterator
from contextlib import contextmanager

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_MMAP_MAX = -1, -3, -4  # glibc's <malloc.h>
_TRIM_NEVER = 2**31 - 1  # bytes of free heap top before glibc trims it (mallopt takes an int)
_policy: str | None = None  # None: glibc's own policy


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 (glibc has both; musl and macOS do not)
    except (OSError, AttributeError):
        return None
    return libc


def _apply(policy: str) -> bool:
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


def keep_freed_memory() -> None:
    """Keep freed memory in the heap for reuse (fast repeated forward passes)."""
    global _policy
    if _apply("keep"):
        _policy = "keep"


def return_freed_memory() -> None:
    """Return freed blocks over 4 MB to the OS at once (low peak memory)."""
    global _policy
    if _apply("return"):
        _policy = "return"


def glibc_defaults() -> None:
    """Back to glibc's own policy as it stands after a few forward passes (for ``stylenet bench``'s
    baselines in a run whose stylenet paths keep freed memory)."""
    global _policy
    if _apply("glibc"):
        _policy = None


def policy() -> str | None:
    """``"keep"``, ``"return"``, or None (glibc's defaults)."""
    return _policy


@contextmanager
def bounded() -> Iterator[None]:
    """Return freed memory within this block if the process keeps it, then keep it again."""
    if _policy != "keep":
        yield
        return
    return_freed_memory()
    try:
        yield
    finally:
        keep_freed_memory()
