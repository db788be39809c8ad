"""Arbitrary style transfer with adaptive instance normalisation (AdaIN).

Huang & Belongie 2017, "Arbitrary Style Transfer in Real-time with Adaptive Instance
Normalization", https://arxiv.org/abs/1703.06868. One network for every painting,
given as an image at run time:

1. a frozen VGG encoder ``f`` (up to relu4_1) turns the photo and the painting into features;
2. AdaIN gives the photo's features the painting's channel-wise mean and standard
   deviation: ``t = sigma(s) * (f(c) - mu(c)) / sigma(c) + mu(s)``;
3. a decoder ``g`` that mirrors the encoder (reflection padding, nearest upsampling then
   a convolution, ReLU, no norm layers) turns ``t`` back into an image.

Only the decoder is trained (``stylenet.training.adain_module``). ``alpha`` trades
style for content in feature space (``alpha * t + (1 - alpha) * f(c)``), and several
paintings mix with weights: ``t = sum_k w_k AdaIN(f(c), s_k)``, which equals AdaIN
with the weighted mean of their statistics (AdaIN is affine in them).

The decoder ends in a sigmoid: its output is an image in [0, 1] during training as
well as inference, so the loss never sees pixels that inference would clip, and
gradients flow for every pixel (a clamp passes none outside [0, 1]). It is the same
choice as ``TransformerNet``'s output layer.

A weights file (``save_adain`` / ``load_adain``) holds only the decoder's tensors; the
encoder is rebuilt from the VGG weights its header names (``vgg=`` points elsewhere).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..io.weights import WeightsError, read_verified, write_verified
from ..loss.vgg import ARCHS, VGGFeatures

FORMAT = "stylenet-adain/1"
LAYER = "relu4_1"  # where AdaIN acts: the encoder's last layer
STRIDE = 8  # the encoder halves the resolution three times; inputs are padded to a multiple of this
MIN_SIDE = 2 * STRIDE  # smaller inputs leave the decoder's reflection padding nothing to reflect
EPS = 1e-5

Stats = tuple[torch.Tensor, torch.Tensor]  # channel means and standard deviations, each (N, C, 1, 1)


def channel_stats(feat: torch.Tensor, eps: float = EPS) -> Stats:
    """Per-sample, per-channel mean and standard deviation ``sqrt(var + eps)`` of ``(N, C, H, W)``
    features, in float32. ``eps`` keeps the square root differentiable on constant channels."""
    feat = feat.float()
    var, mean = torch.var_mean(feat, dim=(2, 3), keepdim=True, correction=0)
    return mean, (var + eps).sqrt()


def adain(
    content_feat: torch.Tensor, style_mean: torch.Tensor, style_std: torch.Tensor, eps: float = EPS
) -> torch.Tensor:
    """The content features normalised per channel, then scaled and shifted to the style's statistics."""
    mean, std = channel_stats(content_feat, eps)
    return (content_feat.float() - mean) / std * style_std + style_mean


def mix_stats(stats: Stats, weights: torch.Tensor | list[float]) -> Stats:
    """One painting's statistics from K paintings' ``(K, C, 1, 1)`` and weights ``(K,)`` or ``(B, K)``
    (normalised to sum to 1): ``sum_k w_k AdaIN(f, s_k)`` is AdaIN with these."""
    mean, std = stats
    w = torch.as_tensor(weights, dtype=torch.float32, device=mean.device)
    if w.shape[-1] != mean.shape[0] or w.dim() > 2:
        raise ValueError(f"weights of shape {tuple(w.shape)} for {mean.shape[0]} paintings; give (K,) or (B, K)")
    if (w < 0).any() or not (w.sum(-1) > 0).all():
        raise ValueError(f"painting weights must be non-negative with a positive sum, got {w.tolist()}")
    w = (w / w.sum(-1, keepdim=True)).reshape(-1, mean.shape[0], 1, 1, 1)
    return (w * mean).sum(1), (w * std).sum(1)


def _conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3))


class Decoder(nn.Module):
    """The encoder (VGG up to relu4_1) mirrored: each of its convolutions becomes one from
    its output width back to its input width, each max pool a nearest 2x upsampling.
    ReLU after every convolution but the last, whose output a sigmoid maps into [0, 1].

    VGG16: conv 512->256, up, 256->256, 256->256, 256->128, up, 128->128, 128->64, up,
    64->64, 64->3 (VGG19 has one more 256->256).
    """

    def __init__(self, arch: str = "vgg16"):
        super().__init__()
        self.arch = arch
        convs: list[tuple[int, int] | str] = []  # the encoder's (input, output) widths, "M" for a pool
        cin = 3
        for v in ARCHS[arch][: ARCHS[arch].index(512) + 1]:  # up to conv4_1
            convs.append(v if v == "M" else (cin, v))
            cin = cin if v == "M" else v
        layers: list[nn.Module] = []
        for item in reversed(convs):
            if item == "M":
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
            else:
                layers += [_conv(item[1], item[0]), nn.ReLU()]
        self.layers = nn.Sequential(*layers[:-1])  # no ReLU after the last convolution

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """relu4_1-shaped features ``(B, 512, h, w)`` -> images ``(B, 3, 8h, 8w)`` in [0, 1]."""
        return torch.sigmoid(self.layers(t))


class AdaINNet(nn.Module):
    """Frozen VGG encoder up to relu4_1 + AdaIN + trainable decoder: any photo in any painting's style.

    ``forward(photo, style)``: ``style`` is a painting ``(N, 3, H, W)`` in [0, 1] or its
    ``style_stats`` (compute them once for a clip or a batch); N is 1 (every photo) or
    the batch size, or, with ``weights``, the K paintings to mix.
    """

    def __init__(self, arch: str = "vgg16", weights: str = "IMAGENET1K_FEATURES", input: str | None = None):
        super().__init__()
        self.encoder = VGGFeatures([LAYER], arch=arch, weights=weights, input=input)
        self.decoder = Decoder(arch)
        self.card: dict = {}  # model card of loaded weights

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """relu4_1 features of images in [0, 1]."""
        return self.encoder(x, [LAYER])[LAYER]

    @torch.no_grad()
    def style_stats(self, painting: torch.Tensor) -> Stats:
        """Channel mean and std ``(N, 512, 1, 1)`` of paintings ``(N, 3, H, W)`` at relu4_1."""
        if min(painting.shape[-2:]) < STRIDE:
            raise ValueError(f"painting of {tuple(painting.shape[-2:])} pixels; at least {STRIDE} are needed")
        return channel_stats(self.encode(painting))

    def forward(
        self,
        photo: torch.Tensor,
        style: torch.Tensor | Stats,
        alpha: float = 1.0,
        weights: torch.Tensor | list[float] | None = None,
    ) -> torch.Tensor:
        """Stylize photos ``(B, 3, H, W)`` in [0, 1]; the output has exactly their size.

        ``alpha`` in [0, 1]: 1 is the full style, 0 the decoder's reconstruction of the photo.
        ``weights`` ``(K,)`` or ``(B, K)``: mix the K paintings of ``style``.
        """
        h, w = photo.shape[-2:]
        if min(h, w) < MIN_SIDE:
            raise ValueError(f"photo of {h}x{w} pixels; at least {MIN_SIDE}x{MIN_SIDE} are needed")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha={alpha} must be in [0, 1] (1: full style, 0: the photo's content)")
        stats = self.style_stats(style) if isinstance(style, torch.Tensor) else style
        if weights is not None:
            stats = mix_stats(stats, weights)
        if stats[0].shape[0] not in (1, photo.shape[0]):
            raise ValueError(
                f"{stats[0].shape[0]} paintings for {photo.shape[0]} photos; give 1, one per photo, or weights= to mix"
            )
        pad_h, pad_w = -h % STRIDE, -w % STRIDE
        x = F.pad(photo, (0, pad_w, 0, pad_h), mode="reflect") if pad_h or pad_w else photo
        feat = self.encode(x)
        t = adain(feat, *stats)
        if alpha < 1.0:
            t = alpha * t + (1 - alpha) * feat.float()
        return self.decoder(t.to(feat.dtype))[..., :h, :w]


# -- weights files ---------------------------------------------------------------------
def save_adain(net: AdaINNet, path: str | os.PathLike, card: dict | None = None, overwrite: bool = False) -> Path:
    """Write the decoder and a card to a safetensors file (atomically); the header names the
    encoder (VGG arch, weights source, input convention), which is not stored."""
    tensors = {k: v.float() for k, v in net.decoder.state_dict().items()}
    enc = net.encoder
    encoder = {"arch": enc.arch, "weights": enc.weights, "input": enc.convention}
    return write_verified(path, tensors, FORMAT, {"encoder": encoder}, card, overwrite)


def load_adain(path: str | os.PathLike, vgg: str | None = None) -> AdaINNet:
    """An ``AdaINNet`` in eval mode from a weights file; ``vgg`` replaces the VGG weights source
    its header names (a file moved to another machine). The card is ``net.card``."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such AdaIN weights file")
    tensors, meta = read_verified(path, FORMAT, "an AdaIN weights file")
    encoder, card = json.loads(meta["encoder"]), json.loads(meta.get("card", "{}"))
    net = AdaINNet(encoder["arch"], vgg or encoder["weights"], encoder["input"])
    try:
        net.decoder.load_state_dict(tensors)
    except RuntimeError as e:
        raise WeightsError(f"{path}: weights do not match a {encoder['arch']} decoder ({e})") from None
    net.card = card
    return net.eval()
