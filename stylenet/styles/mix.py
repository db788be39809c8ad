"""A multi-style network's styles: mixes written as ``"mosaic:0.7,udnie:0.3"`` or a dict, and the
one-style network of a style or a mix, with its card (Dumoulin et al. 2017, section 3.5).
"""

from __future__ import annotations

import torch

from ..errors import StylenetError
from ..model.transformer import TransformerNet
from .registry import UnknownStyleError


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
