"""A multi-style network's styles: mixes written as ``"mosaic:0.7,udnie:0.3"`` or a dict, and the
one-style network of a style or a mix, with its card (Dumoulin et al. 2017, section 3.5).
"""

from __future__ import annotations

from dataclasses import replace

import torch

from ..errors import StylenetError
from ..model.transformer import TransformerNet, _is_table
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


def combine(nets: list[TransformerNet], labels: list[str] | None = None) -> TransformerNet:
    """One multi-style network holding the rows of ``nets``, multi-style networks with the same
    convolutions (rows trained with ``train_only=norm`` from one network, each run adding its own):
    their rows in order, a name that comes again with the same row once; the card's style blocks
    merged. Rows trained apart, one network to serve them, and a file the size of one network.
    ``labels`` name the networks in errors (default: each one's last style)."""
    if not nets or any(not n.num_styles for n in nets):
        raise StylenetError("combine() takes multi-style networks (train_only=norm runs from one of them)")
    first = nets[0]
    shared = {k: v for k, v in first.state_dict().items() if not _is_table(first, k)}
    rows: dict[str, dict[str, torch.Tensor]] = {}  # style -> its gamma/beta in every table
    blocks: dict[str, dict] = {}
    for n, net in enumerate(nets):
        state = net.state_dict()
        if replace(net.config, num_styles=0) != replace(first.config, num_styles=0) or any(
            not torch.equal(state[k], v) for k, v in shared.items()
        ):
            name = labels[n] if labels else f"the network of {net.style_names[-1]!r}"
            first_name = labels[0] if labels else "the first"
            raise StylenetError(
                f"combine(): {name} has other convolutions than {first_name}; "
                "combine rows trained from one network (train_only=norm)"
            )
        for i, name in enumerate(net.style_names):
            row = {k: v[i] for k, v in state.items() if _is_table(net, k)}
            if name in rows:
                if any(not torch.equal(rows[name][k], row[k]) for k in row):
                    raise StylenetError(f"combine(): style {name!r} comes twice with different rows; rename one")
                continue
            rows[name] = row
            block = net.card.get("styles", {}).get(name, {})  # a later network's run, in its new rows' blocks
            blocks[name] = block if n == 0 else {**block, "trained_by": _shared_card(net.card)}
    out = TransformerNet(**{**first.config.to_dict(), "num_styles": len(rows)})
    tables = {k: torch.stack([r[k] for r in rows.values()]) for k in next(iter(rows.values()))}
    out.load_state_dict({**shared, **tables})
    out.style_names = list(rows)
    out.card = {**_shared_card(first.card), "style": first.card.get("style"), "styles": blocks}
    return out.eval()
