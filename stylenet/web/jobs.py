"""One upload, stylized: ``stylenet stylize``'s checks, real progress, and cancellation.

The upload is decoded by ``stylenet.io.images.decode_image`` (the checks of every file the
command line reads: decompression bombs, truncated and non-image data, too small) and
stylized by ``stylenet.stylize`` (16-bit, CMYK, palette and grayscale converted, alpha
carried through, large photos tiled). Every error the user can fix is a ``StylenetError``
whose one line the page shows.

Progress and cancellation come from a forward pre-hook on every module call (PyTorch's
global hook, installed while a server runs): the hook counts the calls of the job that runs
on its thread, and raises ``Cancelled`` there once the job is cancelled (its client went
away), so a job stops within one layer and frees its worker.
"""

from __future__ import annotations

import contextlib
import io
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import StylenetError

MAX_NAME = 80  # characters of an upload's name echoed in messages


class Cancelled(Exception):
    """The job's client went away."""


_current = threading.local()  # the job running on this thread
_hook_lock = threading.Lock()
_hook_users = 0
_hook_handle = None


def _on_module_call(module, args) -> None:
    job = getattr(_current, "job", None)
    if job is not None:
        job.tick()


@contextlib.contextmanager
def watching_jobs() -> Iterator[None]:
    """Install the progress and cancellation hook for the block (nested uses share one hook)."""
    global _hook_users, _hook_handle
    from torch.nn.modules.module import register_module_forward_pre_hook

    with _hook_lock:
        if _hook_users == 0:
            _hook_handle = register_module_forward_pre_hook(_on_module_call)
        _hook_users += 1
    try:
        yield
    finally:
        with _hook_lock:
            _hook_users -= 1
            if _hook_users == 0:
                _hook_handle.remove()
                _hook_handle = None


def display_name(name: str | None) -> str:
    """An upload's file name as messages show it: no folders, printable, at most ``MAX_NAME`` characters."""
    base = (name or "photo").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c if c.isprintable() else "?" for c in base).strip() or "photo"
    return base if len(base) <= MAX_NAME else base[: MAX_NAME - 3] + "..."


@dataclass
class Order:
    """What the page asks for: a photo and a style (one, a mix of two, or a painting)."""

    photo: bytes
    name: str = "photo"
    style: str | None = None
    style2: str | None = None
    mix: float = 0.0  # the second style's share
    strength: float = 1.0
    preserve_color: bool = False
    painting: bytes | None = None
    painting_name: str = "painting"

    def spec(self) -> str:
        if not self.style2 or self.mix <= 0:
            return self.style
        if self.mix >= 1:
            return self.style2
        return f"{self.style}:{1 - self.mix:.6g},{self.style2}:{self.mix:.6g}"


@dataclass
class Result:
    png: bytes
    width: int
    height: int
    filename: str
    seconds: float


def _tile_passes(width: int, height: int) -> int:
    """Forward passes ``stylize`` makes for a photo: one, or a statistics pass and one per tile."""
    from ..defaults import TILE, TILE_ABOVE

    if width * height <= TILE_ABOVE:
        return 1
    return 1 + math.ceil(width / TILE) * math.ceil(height / TILE)


class Job:
    """One order, run on a worker thread by ``run``; ``progress`` and ``cancel`` from any thread."""

    def __init__(self, order: Order, engine: Engine):
        self.order, self.engine = order, engine
        self.cancelled = threading.Event()
        self.started = threading.Event()
        self.calls = 0
        self.expected: int | None = None
        self.t0: float | None = None  # when it started

    def elapsed(self) -> float:
        return 0.0 if self.t0 is None else time.monotonic() - self.t0

    def tick(self) -> None:
        self.calls += 1
        if self.cancelled.is_set():
            raise Cancelled()

    def cancel(self) -> None:
        self.cancelled.set()

    @property
    def progress(self) -> float | None:
        """0 to 1 while running (None: unknown)."""
        if not self.expected:
            return None
        return min(0.99, self.calls / self.expected)

    def run(self) -> Result:
        self.t0 = time.monotonic()
        self.started.set()
        _current.job = self
        try:
            if self.cancelled.is_set():
                raise Cancelled()
            return self._run()
        finally:
            _current.job = None

    def _run(self) -> Result:
        from PIL import Image

        from ..infer.stylize import stylize
        from ..io.images import ImageError, decode_image

        o, engine = self.order, self.engine
        name = display_name(o.name)
        try:  # the size from the header, before the pixels are decoded: memory stays bounded
            with Image.open(io.BytesIO(o.photo)) as probe:
                width, height = probe.size
        except Exception:
            width = height = 0  # decode_image says what is wrong
        if width * height > engine.max_pixels:
            raise ImageError(
                f"{name}: {width}x{height} is {width * height / 1e6:.1f} megapixels; this server stylizes photos of "
                f"up to {engine.max_pixels / 1e6:.1f} (stylenet serve --max-megapixels; or stylenet stylize --max-side)"
            )
        img = decode_image(io.BytesIO(o.photo), name)
        t0 = time.monotonic()
        if o.painting is not None:
            painting = decode_image(io.BytesIO(o.painting), f"style image {display_name(o.painting_name)}")
            out = stylize(
                img,
                style_image=painting,
                strength=o.strength,
                preserve_color=o.preserve_color,
                style_size=engine.style_size,
            )
            label = "painting"
        else:
            net = engine.network(o.spec(), engine.styles[o.style].group)
            self.expected = engine.calls_per_pass * _tile_passes(img.width, img.height) or None
            out = stylize(img, net, strength=o.strength, preserve_color=o.preserve_color)
            label = o.style if not o.style2 else f"{o.style}-{o.style2}"
        seconds = time.monotonic() - t0
        buf = io.BytesIO()
        out.save(buf, format="PNG", compress_level=1)
        stem = name.rsplit(".", 1)[0] if "." in name else name
        return Result(buf.getvalue(), out.width, out.height, f"{stem}_{label}.png", seconds)


class Engine:
    """The styles a server offers and the networks behind them (a few kept loaded)."""

    def __init__(
        self,
        names: list[str] | None = None,
        max_pixels: int = 16_000_000,
        keep: int = 4,
        style_size: int | str = "auto",
    ):
        from .styles import page_styles

        self.styles = page_styles(names)
        if not self.styles:
            raise StylenetError("no styles to offer; install one with `stylenet install FILE`")
        self.max_pixels = max_pixels
        self.style_size = style_size  # a dropped painting's shorter side for its statistics (as --style-size)
        self.keep = keep
        self._nets: OrderedDict = OrderedDict()
        self._groups: dict = {}  # multi-style networks by name: every slider position selects from one file
        self._lock = threading.Lock()
        self.calls_per_pass = 0  # module calls of one forward pass, counted on the thumbnails
        self.thumbs: dict[str, bytes] = {}

    def check(self, order: Order) -> None:
        """Refuse a bad order before it is queued: unknown names, values out of range."""
        if order.painting is not None:
            return
        for name in (order.style, order.style2):
            if name is not None and name not in self.styles:
                raise StylenetError(f"unknown style {name!r}; available: {', '.join(self.styles)}")
        if order.style is None:
            raise StylenetError("choose a style")
        if order.style2 and (
            self.styles[order.style].group is None or self.styles[order.style].group != self.styles[order.style2].group
        ):
            raise StylenetError(f"{order.style} and {order.style2} are not in one network; only those mix")
        for label, v in (("strength", order.strength), ("mix", order.mix)):
            if not 0.0 <= v <= 1.0:
                raise StylenetError(f"{label}={v}: use a value from 0 to 1")

    def network(self, spec: str, group: str | None = None):
        """The one-style network of a name or a mix (``a:0.7,b:0.3``), kept while recently used; a mix or
        a row of ``group`` (a multi-style network) is selected from that file, read once."""
        from ..styles.load import load

        with self._lock:
            if spec in self._nets:
                self._nets.move_to_end(spec)
                return self._nets[spec]
        net = load(spec, network=self.group(group)) if group is not None else load(spec)
        with self._lock:
            self._nets[spec] = net
            while len(self._nets) > self.keep:
                self._nets.popitem(last=False)
        return net

    def group(self, name: str):
        """The multi-style network ``name`` (every style of it), read once."""
        from ..styles.load import load

        with self._lock:
            if name not in self._groups:
                self._groups[name] = load(name)
            return self._groups[name]

    def painting_available(self) -> tuple[bool, str]:
        """Whether a painting can be the style (an AdaIN decoder or a style predictor is installed), and why not."""
        from ..infer.arbitrary import MISSING_DEFAULT, installed_default

        return (True, "") if installed_default() else (False, MISSING_DEFAULT)

    def make_thumbnails(self) -> None:
        """Every style's thumbnail (JPEG bytes); counts the module calls of one pass on the way."""
        from .styles import jpeg, sample_photo

        photo = io.BytesIO()
        sample_photo().save(photo, format="PNG")
        with watching_jobs():
            for name in self.styles:
                job = Job(Order(photo.getvalue(), "sample.png", name), self)
                result = job.run()
                self.calls_per_pass = self.calls_per_pass or job.calls
                from PIL import Image

                self.thumbs[name] = jpeg(Image.open(io.BytesIO(result.png)))
