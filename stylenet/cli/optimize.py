"""``stylenet optimize``: Gatys et al.'s optimization of one image's pixels."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..defaults import OPTIMIZE_SIZE, VGG_ENV, VGG_WEIGHTS
from ..io.files import check_output
from .common import EXIT_OK, add_precision

NAME = "optimize"
HELP = "optimization-based style transfer (Gatys et al.)"
DESCRIPTION = "Optimize one image's pixels to the content of a photo and the style of a painting."


def add_arguments(s: argparse.ArgumentParser) -> None:
    from ..loss.perceptual import DEFAULT_CONTENT_WEIGHT, DEFAULT_STYLE_WEIGHT, DEFAULT_TV_WEIGHT

    s.add_argument("content", help="the photo")
    s.add_argument("--style-image", required=True, help="the painting")
    s.add_argument("-o", "--output", help="output file (default: CONTENT_optimized.png beside it)")
    s.add_argument("--steps", type=int, default=300, help="iterations (default 300)")
    s.add_argument("--method", choices=["lbfgs", "adam"], default="lbfgs", help="default: lbfgs")
    s.add_argument(
        "--size", type=int, default=OPTIMIZE_SIZE, help=f"longer side of the result (default {OPTIMIZE_SIZE})"
    )
    s.add_argument("--style-size", type=int, help="longer side of the style image (default: --size)")
    s.add_argument("--content-weight", type=float, default=DEFAULT_CONTENT_WEIGHT, help="default: as in training")
    s.add_argument("--style-weight", type=float, default=DEFAULT_STYLE_WEIGHT, help="default: as in training")
    s.add_argument("--tv-weight", type=float, default=DEFAULT_TV_WEIGHT, help="default: as in training")
    s.add_argument("--vgg", help=f"VGG weights: a file, or {VGG_WEIGHTS} (default: ${VGG_ENV} or that)")
    s.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    add_precision(s, "the VGG passes' precision")


def run(a: argparse.Namespace) -> int:
    from ..io.images import save_image
    from ..loss.perceptual import loss_config
    from ..quality.optimize import optimize

    out = Path(a.output or Path(a.content).with_name(f"{Path(a.content).stem}_optimized.png"))
    check_output(out, a.overwrite, "--overwrite")
    cfg = loss_config(a.vgg, a.content_weight, a.style_weight, a.tv_weight)
    image = optimize(
        a.content,
        a.style_image,
        steps=a.steps,
        method=a.method,
        size=a.size,
        style_size=a.style_size,
        loss=cfg,
        precision=a.precision,
    )
    save_image(image, out, overwrite=a.overwrite)
    print(f"wrote {out}")
    return EXIT_OK
