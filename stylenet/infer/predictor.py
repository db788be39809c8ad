"""Photos and clips through a style predictor (``stylenet.model.predictor``): the one-style network of a
painting's embedding (made once per embedding), run by ``stylize``'s path and ``ClipStylizer``."""

from __future__ import annotations

import weakref
from collections import OrderedDict

import torch

from ..model.predictor import StylePredictor
from ..model.transformer import TransformerNet
from .arbitrary import device_for
from .runner import Runner, shared_runner

_networks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # predictor -> {embedding bytes: network}


def network_for(pred: StylePredictor, embedding: torch.Tensor) -> TransformerNet:
    """The one-style network of an embedding, made once per predictor and embedding (so that a batch
    or a second call reuses it, and the fast copy ``stylenet.infer.runner.Runner`` keeps of it)."""
    key = embedding.detach().float().cpu().numpy().tobytes()
    cache = _networks.setdefault(pred, OrderedDict())
    if key not in cache:
        with torch.no_grad():
            cache[key] = pred.one_style(embedding).eval()
        while len(cache) > 8:
            cache.popitem(last=False)
    cache.move_to_end(key)
    return cache[key]


@torch.no_grad()
def photo_embedding(pred: StylePredictor, photo: torch.Tensor, target: torch.Tensor, strength: float):
    """Ghiasi's strength: ``strength * target + (1 - strength) * e(photo)`` for one photo ``(1, 3, H, W)``."""
    device = pred.embedding.shift.device
    return pred.at_strength(photo.to(device), target.to(device), strength).cpu()


def photo_function(pred: StylePredictor, target, strength: float, tile, device, precision):
    """``run(x)``: ``(B, 3, H, W)`` CPU photos -> stylized with the network of ``target`` (an embedding,
    ``(1, D)``), through ``stylenet.stylize``'s path: the fast copy, tiles sharing the whole image's
    statistics above its threshold (the colour control follows, as for every network). Each photo has
    its own network below full strength."""
    from .stylize import apply_net

    runner = shared_runner(device_for(pred, device), precision)

    def apply(x: torch.Tensor) -> torch.Tensor:
        if strength == 1.0:
            y = apply_net(network_for(pred, target), x, runner, tile)
        else:
            parts = [x[i : i + 1] for i in range(len(x))]
            y = torch.cat(
                [
                    apply_net(network_for(pred, photo_embedding(pred, p, target, strength)), p, runner, tile)
                    for p in parts
                ]
            )
        return y

    return apply


class PredictorClipStylizer:
    """A clip through the network of a painting's embedding (``stylenet.video.stabilize.ClipStylizer``: the same
    stability knobs as the trained styles). Below full strength the clip's own embedding comes from its
    first frame, once, like the painting's."""

    def __init__(self, pred: StylePredictor, target, strength, stability, denoise, blend, device, precision):
        self.args = (pred, target, strength)
        self.knobs = (stability, denoise, blend)
        self.device = device_for(pred, device)  # as prepare()
        self.precision = precision
        self.clip = None

    def __call__(self, frame) -> torch.Tensor:
        if self.clip is None:
            from ..video.io import frame_tensor
            from ..video.stabilize import ClipStylizer

            e = photo_embedding(*self.args[:1], frame_tensor(frame), *self.args[1:])
            self.clip = ClipStylizer(network_for(self.args[0], e), Runner(self.device, self.precision), *self.knobs)
        return self.clip(frame)
