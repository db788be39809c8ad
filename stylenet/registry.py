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
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .download import download, sha256_file
from .errors import StylenetError
from .export import WeightsError, load_weights, read_weights
from .files import atomic_write
from .transformer import TransformerNet

PACKAGE_DIR = Path(__file__).resolve().parent / "styles"


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

    def local_path(self) -> Path:
        return self.file or cache_dir() / f"{self.name}.safetensors"


_registered: dict[str, Style] = {}


def cache_dir() -> Path:
    return Path(os.environ.get("STYLENET_HOME", "~/.cache/stylenet")).expanduser() / "styles"


def _package_styles() -> dict[str, Style]:
    index = PACKAGE_DIR / "index.json"
    if not index.is_file():
        return {}
    out = {}
    for name, e in json.loads(index.read_text())["styles"].items():
        file = PACKAGE_DIR / e["file"] if e.get("file") else None
        out[name] = Style(name, e["sha256"], "package" if file else "url", file, e.get("url"), e.get("card", {}))
    return out


def _cache_styles() -> dict[str, Style]:
    out = {}
    for record in sorted(cache_dir().glob("*.json")):
        try:
            e = json.loads(record.read_text())
            name = record.stem
            out[name] = Style(name, e["sha256"], "cache", record.with_suffix(".safetensors"), None, e.get("card", {}))
        except (OSError, ValueError, KeyError):
            continue  # a damaged record is ignored; its style is simply not listed
    return out


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


def resolve(name: str) -> Path:
    """The verified local weights file of a named style (downloading it if needed)."""
    styles = available_styles()
    if name not in styles:
        names = ", ".join(styles) or "none installed"
        raise UnknownStyleError(f"unknown style {name!r}; available: {names}; or pass a path to a weights file")
    style = styles[name]
    path = style.local_path()
    if not path.is_file():
        if not style.url:
            raise WeightsError(f"style {name!r}: its weights file {path} is missing; reinstall it")
        download(style.url, path, style.sha256)
    digest = sha256_file(path)
    if digest != style.sha256:
        raise WeightsError(
            f"style {name!r}: {path} has SHA-256 {digest[:16]}..., the registry expects {style.sha256[:16]}... "
            "(corrupted or tampered); delete the file to download or reinstall it"
        )
    return path


def install(weights: str | os.PathLike, name: str | None = None, overwrite: bool = False) -> Style:
    """Copy an exported weights file into the cache so that ``load(name)`` finds it."""
    _, _, card = read_weights(weights)  # verifies the file before it enters the cache
    name = name or card.get("style") or Path(weights).stem
    if name in _package_styles():
        raise StylenetError(f"{name!r} is a shipped style; install under another name with --name")
    dest = cache_dir() / f"{name}.safetensors"
    if dest.exists() and not overwrite:
        raise FileExistsError(f"style {name!r} is already installed at {dest}; pass --overwrite to replace it")
    with atomic_write(dest, overwrite) as tmp:
        shutil.copyfile(weights, tmp)
        digest = sha256_file(tmp)
    dest.with_suffix(".json").write_text(json.dumps({"sha256": digest, "card": card}, indent=2))
    return Style(name, digest, "cache", dest, None, card)


def load(style: str | os.PathLike | TransformerNet, device: str | torch.device | None = None) -> TransformerNet:
    """A style network in eval mode: a registry name, a weights file path, or a network.

    The model card is attached as ``net.card``. ``device`` defaults to the CPU.
    """
    if isinstance(style, TransformerNet):
        net = style
    else:
        text = os.fspath(style)
        is_path = isinstance(style, os.PathLike) or os.sep in text or text.endswith((".safetensors", ".ckpt"))
        path = Path(text) if is_path or Path(text).is_file() else resolve(text)
        net, card = load_weights(path)
        net.card = card
    return net.to(device or "cpu").eval()
