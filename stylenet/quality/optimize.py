"""Optimization-based style transfer (Gatys et al. 2016, https://arxiv.org/abs/1508.06576).

The pixels of one image are optimized, starting from the content image, until
its VGG features match the content image's and its Gram matrices match the style
image's: the same VGG wrapper and the same loss terms (``stylenet.loss.perceptual``) that
train the feed-forward networks, so it serves as their quality reference.
L-BFGS by default (as Gatys et al.), Adam as an option.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from PIL import Image

from .. import precision as policy
from ..defaults import OPTIMIZE_SIZE
from ..errors import StylenetError
from ..io.images import load_image, open_image, resize_to, split_alpha, to_pil, to_tensor, to_uint8
from ..io.progress import progress_bar
from ..loss.perceptual import PerceptualLoss, build_perceptual_loss, loss_config


def _as_tensor(image, size: int | None) -> torch.Tensor:
    """A path, PIL image, array or tensor -> (1, 3, H, W) in [0, 1], longer side ``size``."""
    if isinstance(image, torch.Tensor):
        x = image.detach().float().cpu()
        x = x if x.dim() == 4 else x.unsqueeze(0)
        if size and max(x.shape[-2:]) != size:
            s = size / max(x.shape[-2:])
            x = torch.nn.functional.interpolate(x, scale_factor=s, mode="bilinear", antialias=True)
        return x.clamp(0, 1)
    if isinstance(image, (str, os.PathLike)):
        return load_image(image, size)
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    if isinstance(image, Image.Image):
        return to_tensor(split_alpha(resize_to(image, size))[0]).unsqueeze(0)
    raise TypeError(f"cannot optimize a {type(image).__name__}; pass a path, PIL image, array or tensor")


def optimize(
    content,
    style,
    *,
    steps: int = 300,
    method: str = "lbfgs",
    size: int | None = OPTIMIZE_SIZE,
    style_size: int | None = None,
    loss: PerceptualLoss | dict | None = None,
    lr: float | None = None,
    device: str | torch.device | None = None,
    precision: str = "auto",
    progress: bool = True,
    callback=None,
):
    """Optimize an image to have ``content``'s features and ``style``'s Gram matrices.

    Args:
        content: the photo (path, PIL image, NumPy array or ``(3, H, W)`` tensor).
        style: the style image (same kinds), or None when ``loss`` already has its style set.
        steps: L-BFGS iterations or Adam steps.
        method: "lbfgs" (default) or "adam".
        size: longer side of the result in pixels (None: the content's own size).
        style_size: longer side the style image is scaled to (default: ``size``).
        loss: a ``PerceptualLoss`` or a loss config dict (``loss_config()``'s defaults:
            content weight 1, style weight 5 as in training, VGG from ``$STYLENET_VGG`` or torchvision).
        lr: step size (L-BFGS 1.0, Adam 0.02).
        precision: "auto" (the VGG passes under bf16 autocast where the hardware computes bf16
            natively, else fp32; ``stylenet.precision``), "fp32" or "bf16". The image itself,
            L-BFGS's state and the loss are always fp32.
        callback: called as ``callback(step, losses)`` after every step.

    Returns a PIL image for path and PIL inputs, else the input's kind.
    """
    if method not in ("lbfgs", "adam"):
        raise StylenetError(f"unknown method {method!r}; use lbfgs or adam")
    if steps < 1:
        raise StylenetError(f"steps={steps} must be at least 1")
    for image in (content, style):  # a one-line error for a bad file, before any work (VGG loading included)
        if isinstance(image, (str, os.PathLike)):
            open_image(image)
    device = torch.device(device or "cpu")
    bf16 = policy.resolve(precision, device) == "bf16"
    criterion = loss if isinstance(loss, PerceptualLoss) else build_perceptual_loss(loss or loss_config())
    criterion = criterion.to(device)
    x = _as_tensor(content, size).to(device)
    if style is not None:
        criterion.set_style(_as_tensor(style, style_size or size or max(x.shape[-2:])).to(device))
    elif not criterion.has_style:
        raise StylenetError("optimize() needs a style image (or a loss whose style is set)")

    image = x.clone(memory_format=torch.contiguous_format).requires_grad_(True)  # L-BFGS flattens it
    if method == "lbfgs":
        # One iteration per step, but room for the line search: with max_iter=1 torch's default
        # max_eval is 1, which leaves the strong Wolfe search no evaluation, so a first trial step
        # that raises the loss is rejected outright and every later step repeats it (stuck).
        opt = torch.optim.LBFGS(
            [image], lr=lr or 1.0, max_iter=1, max_eval=25, history_size=50, line_search_fn="strong_wolfe"
        )
    else:
        opt = torch.optim.Adam([image], lr=lr or 0.02)
    evaluated: list[dict[str, float]] = []  # this step's evaluations (L-BFGS: its line search's)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        with torch.autocast(device.type, torch.bfloat16, enabled=bf16):
            parts = criterion(image, x)
        total = parts["total"].float()
        total.backward()
        evaluated.append({k: float(v.detach()) for k, v in parts.items()})
        return total

    with progress_bar(range(steps), desc=f"optimizing ({method})", unit="step", disable=not progress) as bar:
        for step in bar:
            evaluated.clear()
            opt.step(closure)
            with torch.no_grad():
                image.clamp_(0, 1)
            last = min(evaluated, key=lambda e: e["total"])  # the point the step kept
            bar.set_postfix({k: f"{v:.3g}" for k, v in last.items()}, refresh=False)
            if callback is not None:
                callback(step, dict(last))
    out = image.detach()
    if isinstance(content, torch.Tensor):
        return (out if content.dim() == 4 else out[0]).to(content.device, content.dtype)
    rgb = out[0].permute(1, 2, 0).cpu().numpy()
    if isinstance(content, np.ndarray):
        return to_uint8(rgb)
    return to_pil(rgb)
