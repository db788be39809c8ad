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

A multi-style network is one entry (``classic``), and each of its styles can be an
entry of its own that names the file and its ``row``: ``load("mosaic")`` then gives
that style as a one-style network. Each style name points at the best network
the project has for it (a multi-style row or a single-style file; the index and the
card say which). ``load({"mosaic": 0.7, "udnie": 0.3})`` mixes styles of one
multi-style network (Dumoulin et al. 2017, section 3.5).
"""

from __future__ import annotations

import copy
import json
import os
import re
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
    row: str | None = None  # the style's row in a multi-style file (None: the whole file)

    @property
    def styles(self) -> list[str]:
        """The styles a multi-style entry holds (empty for one style)."""
        return [] if self.row else list(self.card.get("styles", {}))

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


def _lookup(name: str) -> Style:
    """The registry entry of ``name`` (one scan of the registry)."""
    styles = available_styles()
    if name not in styles:
        names = ", ".join(styles) or "none installed"
        raise UnknownStyleError(f"unknown style {name!r}; available: {names}; or pass a path to a weights file")
    return styles[name]


def _verified_path(style: Style) -> Path:
    """The local weights file of an entry, downloaded if needed and checked against its SHA-256."""
    path = style.local_path()
    if not path.is_file():
        if not style.url:
            raise WeightsError(f"style {style.name!r}: its weights file {path} is missing; reinstall it")
        download(style.url, path, style.sha256)
    digest = sha256_file(path)
    if digest != style.sha256:
        raise WeightsError(
            f"style {style.name!r}: {path} has SHA-256 {digest[:16]}..., the registry expects {style.sha256[:16]}... "
            "(corrupted or tampered); delete the file to download or reinstall it"
        )
    return path


def resolve(name: str) -> Path:
    """The verified local weights file of a named style (downloading it if needed)."""
    return _verified_path(_lookup(name))


def install(weights: str | os.PathLike, name: str | None = None, overwrite: bool = False) -> Style:
    """Copy an exported weights file into the cache so that ``load(name)`` finds it (an AdaIN decoder or a
    style predictor: so that ``style_image=`` finds it by name, ``stylenet.arbitrary``)."""
    from .arbitrary import arbitrary_card

    card = arbitrary_card(weights)  # verifies the file before it enters the cache
    if card is None:
        _, _, card = read_weights(weights)
    name = name or card.get("style") or Path(weights).stem
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", str(name)):
        raise StylenetError(
            f"style name {name!r} is not a plain name (letters, digits, '_', '.', '-'); install with --name NAME"
        )
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


def parse_mix(spec: str | dict[str, float]) -> dict[str, float]:
    """``"mosaic:0.7,udnie:0.3"`` or ``{"mosaic": 0.7, ...}`` -> weights normalised to sum 1."""
    if isinstance(spec, str):
        out = {}
        for part in spec.split(","):
            name, _, w = part.strip().partition(":")
            try:
                out[name] = float(w) if w else 1.0
            except ValueError:
                raise StylenetError(
                    f"bad style weight {part!r}; write name:weight, e.g. mosaic:0.7,udnie:0.3"
                ) from None
        spec = out
    if not spec or any(not name for name in spec):
        raise StylenetError(f"bad style mix {spec!r}; write name:weight, e.g. mosaic:0.7,udnie:0.3")
    if any(w < 0 for w in spec.values()) or sum(spec.values()) <= 0:
        raise StylenetError(f"style mix {spec}: weights must be >= 0 with a positive sum")
    total = sum(spec.values())
    return {name: float(w) / total for name, w in spec.items()}


def _open(style: str | os.PathLike | Style) -> tuple[TransformerNet, str | None]:
    """A weights file, a registry name or entry -> (network with its card, the entry's row if any)."""
    if isinstance(style, Style):
        entry, path = style, None
    else:
        text = os.fspath(style)
        is_path = isinstance(style, os.PathLike) or os.sep in text or text.endswith((".safetensors", ".ckpt"))
        entry, path = (None, Path(text)) if is_path else (None, None)
        if not is_path:  # a bare name: the registry's style first, else a file of that name here
            try:
                entry = _lookup(text)
            except UnknownStyleError:
                if not Path(text).is_file():
                    raise
                path = Path(text)
    net, card = load_weights(path or _verified_path(entry))
    net.card = card
    return net, entry.row if entry else None


def _network_for(names: list[str]) -> TransformerNet:
    """The first multi-style network of the registry that holds all ``names``."""
    for entry in available_styles().values():
        if entry.styles and all(n in entry.styles for n in names):
            return _open(entry)[0]
    raise UnknownStyleError(
        f"no multi-style network holds all of {', '.join(names)}; mixing needs styles of one network "
        "(see `stylenet styles`), or pass network=/path/to/multi_style.safetensors"
    )


def _shared_card(card: dict) -> dict:
    """What every style of a multi-style network shares: its card without the per-style fields."""
    return {k: v for k, v in card.items() if k not in ("styles", "style", "trained_styles")}


def row_card(card: dict, row: str) -> dict:
    """The model card of style ``row`` of the multi-style network whose card is ``card``:
    the shared fields, the row's own block, the style's name and the network's. The one
    source of a row's card (``select`` and scripts/ship_styles.py use it)."""
    return {**_shared_card(card), **card.get("styles", {}).get(row, {}), "style": row, "network": card.get("style")}


def select(net: TransformerNet, mix: dict[str, float]) -> TransformerNet:
    """The one-style network of multi-style ``net`` at the style mix ``{name: weight}``."""
    unknown = [n for n in mix if n not in net.style_names]
    if unknown:
        raise UnknownStyleError(f"unknown style {unknown[0]!r} in this network; it holds: {', '.join(net.style_names)}")
    weights = torch.zeros(net.num_styles)
    for name, w in mix.items():
        weights[net.style_names.index(name)] = w
    out = net.single(weights)
    if len(mix) == 1:
        (name,) = mix
        out.card = row_card(net.card, name)
    else:
        out.card = {**_shared_card(net.card), "style": ",".join(f"{n}:{w:.3g}" for n, w in mix.items()), "mix": mix}
    return out


def load(
    style: str | os.PathLike | dict[str, float] | TransformerNet,
    device: str | torch.device | None = None,
    network: str | os.PathLike | TransformerNet | None = None,
) -> TransformerNet:
    """A style network in eval mode: a registry name, a weights file path, a network, or a
    mix of styles ``{"mosaic": 0.7, "udnie": 0.3}`` (or ``"mosaic:0.7,udnie:0.3"``).

    A name picks the best network the registry has for that style (a multi-style
    network's row comes as a one-style network). A mix, or a name given with
    ``network`` (a multi-style network's name, file or object), selects from that
    network's styles; without ``network``, a mix uses the first multi-style network
    that holds all its styles. Weights are normalised to sum 1. A multi-style file
    loaded by path or by its own name stays multi-style (``net.style_names``).
    The model card is attached as ``net.card``. ``device`` defaults to the CPU.
    """
    is_mix = isinstance(style, dict) or (
        isinstance(style, str) and ("," in style or ":" in style) and not Path(style).exists()
    )
    if isinstance(style, TransformerNet) and network is not None:
        raise StylenetError(
            "style is a network object and network= is given too: network= is the multi-style network that "
            "style names or a mix select from; pass the network object alone, or a style name with network="
        )
    if is_mix or network is not None:
        mix = parse_mix(style) if is_mix else {os.fspath(style): 1.0}
        if network is None:
            multi = _network_for(list(mix))
        elif isinstance(network, TransformerNet):
            multi = network
        else:
            multi = _open(network)[0]
        if not multi.num_styles:
            raise StylenetError(
                f"network {multi.card.get('style')!r} holds one style; mixing needs a multi-style network"
            )
        net = select(multi, mix)
    elif isinstance(style, TransformerNet):
        device = torch.device(device) if device is not None else next(style.parameters()).device
        if style.training or next(style.parameters()).device != device:
            style = copy.deepcopy(style)  # the caller's network keeps its device and mode
        net = style
    else:
        net, row = _open(style)
        if row is not None:
            net = select(net, {row: 1.0})
            net.card["style"] = os.fspath(style)
    return net.to(device or "cpu").eval()
