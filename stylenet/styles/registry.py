"""Named styles: shipped with the package, installed in a cache, or fetched by URL.

Like torchvision's weight enums, every entry carries a file, its SHA-256 and a
model card, and the digest is checked on every load: a style never silently
loads different weights, and never falls back to a random network.

* **package**: ``stylenet/styles/index.json`` lists the styles shipped inside the
  package (their files sit next to it); loaded offline.
* **cache**: ``$STYLENET_HOME/styles`` (default ``~/.cache/stylenet/styles``) holds
  user-trained styles (``stylenet install``) and downloaded ones, each
  ``<name>.safetensors`` with a ``<name>.json`` record of its digest and card.
* **url**: entries with a ``url`` (in the package index, or added with
  ``register_style``) are downloaded into the cache on first use, verified first.

The registry lists entries; ``stylenet.styles.fetch`` gets an entry's verified file,
``install`` adds one to the cache, ``mix`` selects and mixes a multi-style network's
styles and ``load`` turns any of these into a network.

A multi-style network is one entry (``classic``), and each of its styles can be an
entry of its own that names the file and its ``row``: ``load("mosaic")`` then gives
that style as a one-style network. Each style name points at the best network
the project has for it (a multi-style row or a single-style file; the index and the
card say which). ``load({"mosaic": 0.7, "udnie": 0.3})`` mixes styles of one
multi-style network (Dumoulin et al. 2017, section 3.5).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import StylenetError

PACKAGE_DIR = Path(__file__).resolve().parent  # the shipped files and their index.json sit beside this module

_registered: dict[str, Style] = {}


class UnknownStyleError(StylenetError):
    pass


@dataclass(frozen=True)
class Style:
    """One registry entry."""

    name: str
    sha256: str
    origin: str  # "package", "cache" or "url"
    file: Path | None = None  # local file, when there is one
    url: str | None = None
    card: dict = field(default_factory=dict, compare=False)
    row: str | None = None  # the style's row in a multi-style file (None: the whole file)

    @property
    def styles(self) -> list[str]:
        """The styles a multi-style entry holds (empty for one style)."""
        return [] if self.row else list(self.card.get("styles", {}))

    @property
    def takes_painting(self) -> bool:
        """An arbitrary-style network (AdaIN decoder, style predictor): ``style_image=``, not ``style=``.
        Its card says so, else its file's header."""
        from ..io.weights import ARBITRARY, file_format

        if self.card.get("model") in ("adain", "predictor"):
            return True
        path = self.local_path()
        return path.is_file() and file_format(path) in ARBITRARY

    def local_path(self) -> Path:
        return self.file or cache_dir() / f"{self.name}.safetensors"


def cache_dir() -> Path:
    return Path(os.environ.get("STYLENET_HOME", "~/.cache/stylenet")).expanduser() / "styles"


def _package_styles() -> dict[str, Style]:
    index = PACKAGE_DIR / "index.json"
    if not index.is_file():
        return {}
    out = {}
    for name, e in json.loads(index.read_text())["styles"].items():
        file = PACKAGE_DIR / e["file"] if e.get("file") else None
        origin = "package" if file else "url"
        out[name] = Style(name, e["sha256"], origin, file, e.get("url"), e.get("card", {}), e.get("row"))
    return out


def _cache_styles() -> dict[str, Style]:
    out = {}
    for record in sorted(cache_dir().glob("*.json")):
        try:
            e = json.loads(record.read_text())
            name, card = record.stem, e.get("card", {})
            out[name] = Style(name, e["sha256"], "cache", record.with_suffix(".safetensors"), None, card)
            for row in card.get("styles", {}):  # a multi-style network's styles load by name too
                out.setdefault(row, Style(row, e["sha256"], "cache", out[name].file, None, card, row))
        except (OSError, ValueError, KeyError):
            continue  # a damaged record is ignored; its style is simply not listed
    return out


def is_shipped(name: str) -> bool:
    """Whether ``name`` is a style shipped inside the package (such names cannot be installed)."""
    return name in _package_styles()


def available_styles() -> dict[str, Style]:
    """Every style ``load(name)`` accepts, by name, with its model card (``.card``)."""
    styles = _cache_styles()
    styles.update(_package_styles())  # shipped names cannot be shadowed
    for name, s in _registered.items():
        styles.setdefault(name, s)
    return dict(sorted(styles.items()))


def register_style(name: str, url: str, sha256: str, card: dict | None = None) -> Style:
    """Make ``load(name)`` download ``url`` on first use (verified against ``sha256``)."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256.lower()):
        raise StylenetError(f"register_style({name!r}): sha256 must be 64 hex digits, got {sha256!r}")
    style = Style(name, sha256.lower(), "url", None, url, card or {})
    _registered[name] = style
    return style


def lookup(name: str) -> Style:
    """The registry entry of ``name`` (one scan of the registry)."""
    styles = available_styles()
    if name not in styles:
        names = ", ".join(styles) or "none installed"
        raise UnknownStyleError(f"unknown style {name!r}; available: {names}; or pass a path to a weights file")
    return styles[name]
