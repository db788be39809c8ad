"""How well does a style do? Losses, structure and speed on a folder of photos.

For each method (a trained network, or ``optimize:N``, Gatys optimization with N
L-BFGS steps) and each photo: the content and style losses of the output under
the training definitions (``stylenet.loss.perceptual``: relative errors, real VGG weights),
PSNR and SSIM against the photo (how much structure survives), and seconds per
image. The unstylized photo is the first row: its style loss is where every
method starts from. Photos are resized (shorter side ``size``) and centre-cropped
square, as in training; ``holdout`` selects the same held-out photos as training.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ..defaults import IMAGE_SIZE
from ..errors import StylenetError
from ..infer.runner import Runner
from ..io.images import ImageError, list_images
from ..io.photos import load_photo, split_holdout
from ..loss.perceptual import PerceptualLoss
from .optimize import optimize
from .reports import MethodResult


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(F.mse_loss(a.float(), b.float()))
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean SSIM over channels (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5)."""
    a, b = a.float().reshape(-1, 1, *a.shape[-2:]), b.float().reshape(-1, 1, *b.shape[-2:])
    g = torch.exp(-((torch.arange(11) - 5.0) ** 2) / (2 * 1.5**2))
    w = (g[:, None] * g[None, :] / g.sum() ** 2)[None, None]
    mu_a, mu_b = F.conv2d(a, w), F.conv2d(b, w)
    var_a = F.conv2d(a * a, w) - mu_a**2
    var_b = F.conv2d(b * b, w) - mu_b**2
    cov = F.conv2d(a * b, w) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(s.mean())


def select_photos(source: str | Path, holdout: int | None = None, limit: int | None = None) -> list[Path]:
    """Photos from a folder (optionally its training hold-out set) or a text file of paths."""
    source = Path(source)
    if source.is_dir():
        files = list_images(source)
        if holdout:
            files = split_holdout(files, source, holdout)[1]
    elif source.is_file() and source.suffix == ".txt":
        files = [Path(line.strip()) for line in source.read_text().splitlines() if line.strip()]
    else:
        raise StylenetError(f"--photos {source}: give a folder of images or a .txt list of paths")
    if not files:
        raise StylenetError(f"--photos {source}: no images found")
    return files[:limit] if limit else files


def _measure(out: torch.Tensor, photo: torch.Tensor, criterion: PerceptualLoss, seconds: float) -> dict:
    with torch.no_grad():
        parts = criterion(out, photo)
    return {
        "content": float(parts["content"]),
        "style": float(parts["style"]),
        "psnr": psnr(out, photo),
        "ssim": ssim(out, photo),
        "seconds": seconds,
    }


def evaluate(
    methods: dict[str, object],
    photos: list[Path],
    criterion: PerceptualLoss,
    size: int = IMAGE_SIZE,
    device: str = "cpu",
    progress: bool = True,
    precision: str = "auto",
) -> list[MethodResult]:
    """Evaluate ``{label: network or ("optimize", steps)}`` on ``photos``; the photos first.

    ``criterion`` must have its style set (the style image at its training size). Networks
    run at ``precision`` (``stylenet.precision``); ``optimize:N`` always runs in fp32, so
    that a reference measured on one machine holds on another.
    """
    from ..io.progress import progress_bar

    tensors = []
    for p in photos:
        try:
            tensors.append((p, load_photo(p, size).float().unsqueeze(0) / 255))
        except Exception as e:
            raise ImageError(f"{p}: unreadable photo ({e})") from None
    runner = Runner(device, precision)
    results = [MethodResult("photo (unstylized)")]
    for p, x in tensors:
        results[0].images.append({"photo": p.name, **_measure(x, x, criterion, 0.0)})
    for label, method in methods.items():
        result = MethodResult(label)
        for p, x in progress_bar(tensors, desc=label, unit="photo", disable=not progress):
            start = time.perf_counter()
            if isinstance(method, tuple):  # ("optimize", steps)
                y = optimize(
                    x, None, steps=method[1], loss=criterion, size=None, device=device, precision="fp32", progress=False
                )
            else:
                y = runner(method, x)
            result.images.append({"photo": p.name, **_measure(y, x, criterion, time.perf_counter() - start)})
        results.append(result)
    return results
