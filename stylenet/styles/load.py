"""``load``: a style network from a registry name, a weights file, a network object or a mix."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import torch

from ..errors import StylenetError
from ..io.weights import load_weights
from ..model.transformer import TransformerNet
from .fetch import verified_path
from .mix import parse_mix, select
from .registry import Style, UnknownStyleError, available_styles, lookup


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
                entry = lookup(text)
            except UnknownStyleError:
                if not Path(text).is_file():
                    raise
                path = Path(text)
    net, card = load_weights(path or verified_path(entry))
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


def require_one_style(net: TransformerNet) -> TransformerNet:
    """``net``, if it applies one style (or one mix); a multi-style network must be told which."""
    if net.num_styles:
        first, last = net.style_names[0], net.style_names[-1]
        raise StylenetError(
            f"this network holds {net.num_styles} styles ({', '.join(net.style_names)}); choose one or a mix: "
            f"--style {first} --network FILE, --style {first}:0.5,{last}:0.5 --network FILE "
            f"(Python: style={first!r}, network=...)"
        )
    return net


def one_style(style, network=None, device: str | torch.device | None = None) -> tuple[TransformerNet, torch.device]:
    """The one-style network that ``stylize`` and ``stylize_video`` apply, and the device to apply it on.

    A network object is used as it is (a runner applies an eval copy on the device, so the
    caller's network keeps its device and mode; ``device`` defaults to the network's); any
    other ``style``, or one given with ``network``, goes through ``load``.
    """
    if isinstance(style, TransformerNet) and device is None:
        device = next(style.parameters()).device
    direct = isinstance(style, TransformerNet) and network is None
    net = require_one_style(style if direct else load(style, device, network=network))
    return net, torch.device(device or "cpu")
