"""The styles the page offers, by registry name only, and their thumbnails.

A thumbnail is a small sample photo (drawn here, no file) stylized with the style: it shows
the style's palette and strokes at the size the page shows it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

THUMB_SIZE = (128, 96)


@dataclass(frozen=True)
class PageStyle:
    name: str
    title: str  # the style image's description, from the card
    group: str | None  # the multi-style network that holds it (styles of one group mix), else None


def page_styles(names: list[str] | None = None) -> dict[str, PageStyle]:
    """The registry's one-style entries with a local file (shipped or installed), or those of ``names``."""
    from ..errors import StylenetError
    from ..styles.registry import available_styles

    # an AdaIN decoder in the registry is no style of its own: a dropped painting uses it
    entries = {n: s for n, s in available_styles().items() if not s.takes_painting}
    if names:
        unknown = [n for n in names if n not in entries or entries[n].styles]
        if unknown:
            usable = ", ".join(n for n, s in entries.items() if not s.styles)
            raise StylenetError(f"unknown style {unknown[0]!r}; available: {usable}")
    out = {}
    for name, s in entries.items():
        if s.styles or (names and name not in names) or not s.local_path().is_file():
            continue
        group = s.card.get("network") if s.row else None
        out[name] = PageStyle(
            name, str(s.card.get("style_image", {}).get("title", "")), group if group in entries else None
        )
    return out


def sample_photo(size: tuple[int, int] = THUMB_SIZE) -> Image.Image:
    """A small landscape (sky, sun, hills, a lake), drawn: the thumbnails' photo."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    y, x = y / h, x / w
    sky = np.stack([0.45 + 0.4 * y, 0.65 + 0.25 * y, 0.95 - 0.1 * y], -1)
    img = sky
    sun = ((x - 0.72) ** 2 + ((y - 0.28) * h / w) ** 2) < 0.012
    img = np.where(sun[..., None], np.array([1.0, 0.85, 0.35], np.float32), img)
    far = y > 0.55 - 0.12 * np.sin(5 * x + 1.0)
    img = np.where(far[..., None], np.array([0.35, 0.45, 0.6], np.float32) * (1.2 - 0.4 * y[..., None]), img)
    near = y > 0.7 - 0.08 * np.sin(9 * x + 2.0)
    img = np.where(near[..., None], np.array([0.25, 0.55, 0.2], np.float32) * (1.3 - 0.5 * y[..., None]), img)
    lake = (y > 0.8) & (np.abs(x - 0.35) < 0.25 - (y - 0.8))
    img = np.where(lake[..., None], np.array([0.3, 0.5, 0.8], np.float32), img)
    noise = np.random.default_rng(0).normal(0, 0.03, img.shape).astype(np.float32)
    return Image.fromarray((np.clip(img + noise, 0, 1) * 255 + 0.5).astype(np.uint8), "RGB")


def jpeg(img: Image.Image, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
