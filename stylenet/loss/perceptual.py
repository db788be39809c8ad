"""Perceptual losses: content, Gram-matrix style and total variation.

Johnson et al. 2016 (https://arxiv.org/abs/1603.08155), after Gatys et al. 2016
(https://arxiv.org/abs/1508.06576). Every term is normalised so that a weight
means the same thing whatever the layer, the image size, the batch size or the
VGG weight source:

* **content** at layer j: ``||phi_j(y) - phi_j(x)||^2 / ||phi_j(x)||^2`` per image,
  averaged over the batch: the relative squared error of the output's features
  (0 for the photo itself; about 0.3-0.6 for a strong stylisation).
* **style** at layer j: Gram matrices ``G = F F^T / (H W)`` (F the C x HW
  features), and ``||G(y) - G(s)||_F^2 / ||G(s)||_F^2``: the relative error
  against the style image's Gram matrix (about 1 for a blank image). Layers are
  combined as a weighted mean, so adding a layer does not change the scale.
* **total variation**: mean squared difference between neighbouring pixels of
  the [0, 1] output (Mahendran & Vedaldi 2015, beta = 2), as in Johnson et al.

Being ratios, the content and style terms do not change when a weight source
scales its features (0-255 Caffe input against [0, 1] torchvision input), and
the Gram normalisation by H W makes style targets computed at one size
comparable with outputs at another. The loss is a set of named, weighted terms
(``LossTerms``): ``total = content_weight * content + style_weight * style +
tv_weight * tv``, plus the training-only terms (``stability``, ``adversarial``,
``stylenet.training``) when their weights are not 0.

Several styles (one multi-style network): ``set_styles`` keeps one set of Gram
targets and one style weight per style, and ``forward(y, x, style)`` compares
each output with the targets of its own style (``style``: one index per sample).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import torch
from torch import nn

from ..defaults import default_vgg
from .vgg import VGGFeatures

EPS = 1e-8
DEFAULT_CONTENT_LAYERS = ["relu2_2"]  # Johnson et al.
DEFAULT_STYLE_LAYERS = ["relu1_2", "relu2_2", "relu3_3", "relu4_3"]
# The one source of the loss weights' defaults (training config, optimize, evaluate, the CLI)
DEFAULT_CONTENT_WEIGHT = 1.0
DEFAULT_STYLE_WEIGHT = 5.0
DEFAULT_TV_WEIGHT = 0.0


def parse_layer_weights(spec: Iterable[str] | dict[str, float] | str) -> dict[str, float]:
    """``["relu1_2", "relu2_2:0.5"]``, ``"relu2_2"`` or ``{"relu1_2": 1.0}`` -> ``{name: weight}``."""
    if isinstance(spec, str):
        spec = [spec]
    if isinstance(spec, dict):
        return {str(k): float(v) for k, v in spec.items()}
    out = {}
    for item in spec:
        m = re.fullmatch(r"(\w+?)(?::([0-9.eE+-]+))?", str(item))
        if not m:
            raise ValueError(f"bad layer spec {item!r}; write relu3_3 or relu3_3:0.5")
        out[m.group(1)] = float(m.group(2)) if m.group(2) else 1.0
    return out


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(B, C, C)`` Gram matrices divided by H W, returned in float32.

    The product runs in the features' precision (bf16 under autocast, accumulated in
    float32 by the matrix kernels); the style targets are computed in float32.
    """
    b, c, h, w = features.shape
    f = features.reshape(b, c, h * w)
    return torch.bmm(f, f.transpose(1, 2)).float() / (h * w)


def _relative_error(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-sample ``||a - b||^2 / ||b||^2`` (b may broadcast over the batch)."""
    a, b = a.float(), b.float()
    err = (a - b).pow(2).flatten(1).sum(1)
    ref = b.pow(2).flatten(1).sum(1)
    return err / (ref + EPS)


def content_loss(fy: torch.Tensor, fx: torch.Tensor) -> torch.Tensor:
    return _relative_error(fy, fx).mean()


def style_loss(gy: torch.Tensor, gs: torch.Tensor) -> torch.Tensor:
    return _relative_error(gy, gs).mean()


def tv_loss(y: torch.Tensor) -> torch.Tensor:
    y = y.float()
    return (y[..., 1:, :] - y[..., :-1, :]).pow(2).mean() + (y[..., :, 1:] - y[..., :, :-1]).pow(2).mean()


class LossTerms(dict):
    """Named loss terms: ``terms[name]`` is a term's unweighted value (what TensorBoard shows as
    ``train/<name>``), ``terms.weighted[name]`` its contribution to ``terms["total"]``, their sum."""

    def __init__(self) -> None:
        super().__init__()
        self.weighted: dict[str, torch.Tensor] = {}

    def add(self, name: str, value: torch.Tensor, contribution: torch.Tensor | float) -> LossTerms:
        """Add term ``name`` (``contribution``: its weighted value, usually ``weight * value``)."""
        self[name] = value
        self.weighted[name] = contribution
        self["total"] = sum(self.weighted.values())
        return self


class PerceptualLoss(nn.Module):
    """Content + style + TV loss around one frozen VGG; style targets set once by ``set_style``
    (one style) or ``set_styles`` (several, each with its own weight)."""

    def __init__(
        self,
        vgg: VGGFeatures,
        content_layers: dict[str, float],
        style_layers: dict[str, float],
        content_weight: float = DEFAULT_CONTENT_WEIGHT,
        style_weight: float = DEFAULT_STYLE_WEIGHT,
        tv_weight: float = DEFAULT_TV_WEIGHT,
    ):
        super().__init__()
        self.vgg = vgg
        self.content_layers, self.style_layers = dict(content_layers), dict(style_layers)
        self.content_weight, self.style_weight, self.tv_weight = content_weight, style_weight, tv_weight
        self.has_style = False
        self.last_style_each: torch.Tensor | None = None  # per-sample style loss of the last forward

    def set_style(self, style: torch.Tensor) -> None:
        """Compute the Gram targets of a ``(1, 3, H, W)`` style image (once per run)."""
        self.set_styles([style])

    @torch.no_grad()
    def set_styles(self, styles: list[torch.Tensor], weights: list[float] | None = None) -> None:
        """Gram targets of N style images (each ``(1, 3, H, W)``, any sizes) and their style
        weights (default: ``style_weight`` for each); index i of ``forward``'s ``style`` is style i."""
        grams: dict[str, list[torch.Tensor]] = {k: [] for k in self.style_layers}
        for image in styles:
            for k, v in self.vgg(image.to(self.vgg.mean.device), self.style_layers).items():
                grams[k].append(gram_matrix(v)[0])
        for k, v in grams.items():  # buffers follow the module's device; not saved in checkpoints
            self.register_buffer(f"gram_{k}", torch.stack(v), persistent=False)
        w = [self.style_weight] * len(styles) if weights is None else [float(x) for x in weights]
        self.register_buffer("style_scale", torch.tensor(w, device=self.vgg.mean.device), persistent=False)
        self.has_style = True

    @property
    def num_styles(self) -> int:
        return len(self.style_scale) if self.has_style else 0

    def style_terms(
        self, feats: dict[str, torch.Tensor], style: torch.Tensor | None = None, targets: dict | None = None
    ) -> torch.Tensor:
        """Per-sample style loss ``(B,)``; ``style`` holds each sample's style index (default 0), or
        ``targets`` each sample's own Gram matrices ``{layer: (B, C, C)}`` (``painting_targets``)."""
        return self.gram_terms({k: gram_matrix(feats[k]) for k in self.style_layers}, style, targets)

    def gram_terms(
        self, grams: dict[str, torch.Tensor], style: torch.Tensor | None = None, targets: dict | None = None
    ) -> torch.Tensor:
        """``style_terms`` from the outputs' Gram matrices ``{layer: (B, C, C)}`` (an image scored against
        several styles needs them once)."""
        if targets is None:
            if not self.has_style:
                raise RuntimeError("PerceptualLoss.set_style() must be called before computing losses")
            b = next(iter(grams.values())).shape[0]
            idx = torch.zeros(b, dtype=torch.long, device=self.style_scale.device) if style is None else style
            targets = {k: getattr(self, f"gram_{k}")[idx] for k in self.style_layers}
        total = sum(w * _relative_error(grams[k], targets[k]) for k, w in self.style_layers.items())
        return total / sum(self.style_layers.values())

    def painting_targets(self, feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Per-sample Gram targets ``{layer: (B, C, C)}`` from a batch of paintings' VGG features
        (one painting per sample: arbitrary-style training), for ``forward(..., targets=)``."""
        return {k: gram_matrix(feats[k]) for k in self.style_layers}

    def content_terms(self, fy: dict[str, torch.Tensor], fx: dict[str, torch.Tensor]) -> torch.Tensor:
        total = sum(w * content_loss(fy[k], fx[k]) for k, w in self.content_layers.items())
        return total / sum(self.content_layers.values())

    def forward(
        self, y: torch.Tensor, x: torch.Tensor, style: torch.Tensor | None = None, targets: dict | None = None
    ) -> LossTerms:
        """Losses of outputs ``y`` for content images ``x``; both ``(B, 3, H, W)`` in [0, 1].

        ``style``: each sample's style index ``(B,)`` (several styles; default style 0); or ``targets``:
        each sample's own Gram targets (``painting_targets``), weighted by ``style_weight``.
        Returns the terms ``content``, ``style`` and ``tv`` and their weighted ``total``;
        ``style`` is the unweighted mean, its contribution weights each sample's style loss
        by its own style's weight.
        """
        with torch.no_grad():  # the photo's features only as deep as the content layers
            fx = self.vgg(x, self.content_layers)
        fy = self.vgg(y, set(self.content_layers) | set(self.style_layers))
        each = self.style_terms(fy, style, targets)
        self.last_style_each = each.detach()
        scale = self.style_weight if targets is not None else self.style_scale[0 if style is None else style]
        content, tv = self.content_terms(fy, fx), tv_loss(y)
        terms = LossTerms()
        terms.add("content", content, self.content_weight * content)
        terms.add("style", each.mean(), (scale * each).mean())
        return terms.add("tv", tv, self.tv_weight * tv)


def build_perceptual_loss(cfg: dict) -> PerceptualLoss:
    """A ``PerceptualLoss`` from the ``loss`` config node (as a plain dict); loads the VGG."""
    content, style = parse_layer_weights(cfg["content_layers"]), parse_layer_weights(cfg["style_layers"])
    vgg_cfg = cfg["vgg"]
    vgg = VGGFeatures(
        layers=list(content) + list(style),
        arch=vgg_cfg.get("arch", "vgg16"),
        weights=vgg_cfg["weights"],
        input=vgg_cfg.get("input"),
    )
    return PerceptualLoss(
        vgg,
        content,
        style,
        cfg.get("content_weight", DEFAULT_CONTENT_WEIGHT),
        cfg.get("style_weight", DEFAULT_STYLE_WEIGHT),
        cfg.get("tv_weight", DEFAULT_TV_WEIGHT),
    )


def loss_config(
    vgg: str | None = None,
    content_weight: float = DEFAULT_CONTENT_WEIGHT,
    style_weight: float = DEFAULT_STYLE_WEIGHT,
    tv_weight: float = DEFAULT_TV_WEIGHT,
    content_layers: list[str] | None = None,
    style_layers: list[str] | None = None,
) -> dict:
    """A ``loss`` config node with the training defaults (the same keys as configs/loss/)."""
    return {
        "vgg": {"weights": vgg or default_vgg()},
        "content_layers": content_layers or list(DEFAULT_CONTENT_LAYERS),
        "style_layers": style_layers or list(DEFAULT_STYLE_LAYERS),
        "content_weight": content_weight,
        "style_weight": style_weight,
        "tv_weight": tv_weight,
    }
