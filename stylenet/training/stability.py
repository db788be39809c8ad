"""A training term for temporal stability that needs no optical flow.

Stylized video flickers because a feed-forward network amplifies small input
changes: two consecutive frames differ by a little noise and a little motion, and
their outputs differ by much more. Gupta et al. 2017 ("Characterizing and
Improving Stability in Neural Style Transfer", https://arxiv.org/abs/1705.02092)
train with the photo and a perturbed copy and ask for matching outputs. Here the
perturbation is a small random affine warp (shift, rotation, zoom: the motion
between frames) plus pixel noise (sensor noise, compression), and the term is

    stability = mean |f(warp(x) + noise) - warp(f(x))|^2

over the interior of the image (the warp's border is left out), in [0, 1] pixels:
the output of a perturbed photo should be the perturbed output. With every knob at
0 but ``noise`` it is Gupta et al.'s noise-resilience loss.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

DEFAULTS = {"noise": 0.02, "shift": 2.0, "rotate": 1.0, "zoom": 0.02}  # loss.stability.* (the schema's)


def random_affine(b: int, h: int, w: int, shift: float, rotate: float, zoom: float, device=None) -> torch.Tensor:
    """``(B, 2, 3)`` affine matrices for ``F.affine_grid``: uniform shifts up to ``shift`` pixels,
    rotations up to ``rotate`` degrees and zooms up to ``zoom`` (relative), each its own per sample."""

    def u(scale: float) -> torch.Tensor:
        return (torch.rand(b, device=device) * 2 - 1) * scale

    a = u(math.radians(rotate))
    s = 1 + u(zoom)
    tx, ty = u(shift) * 2 / w, u(shift) * 2 / h  # pixels -> affine_grid's [-1, 1] units
    cos, sin = torch.cos(a) * s, torch.sin(a) * s
    return torch.stack([torch.stack([cos, -sin * h / w, tx], 1), torch.stack([sin * w / h, cos, ty], 1)], 1)


def warp(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """``x`` resampled (bilinear, reflected borders) through the affine maps ``theta``."""
    grid = F.affine_grid(theta.to(torch.float32), list(x.shape), align_corners=False)
    return F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def stability_loss(
    net: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    noise: float = DEFAULTS["noise"],
    shift: float = DEFAULTS["shift"],
    rotate: float = DEFAULTS["rotate"],
    zoom: float = DEFAULTS["zoom"],
) -> torch.Tensor:
    """Mean squared difference between ``net`` of a perturbed ``x`` and the same warp of ``y = net(x)``.

    Gradients flow through both outputs. ``x`` and ``y``: ``(B, 3, H, W)`` in [0, 1].
    """
    b, _, h, w = x.shape
    theta = random_affine(b, h, w, shift, rotate, zoom, device=x.device)
    moved = warp(x, theta)
    if noise:
        moved = moved + noise * torch.randn_like(moved)
    out = net(moved.clamp(0, 1).to(x.dtype))
    target = warp(y, theta)
    # leave out the border, where the warp reflects and the two sides legitimately differ
    m = min(h, w) // 4 if min(h, w) < 32 else math.ceil(shift + max(h, w) * (math.radians(rotate) + zoom) / 2) + 2
    return (out.float() - target)[..., m : h - m, m : w - m].pow(2).mean()
