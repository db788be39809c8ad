"""``stylenet evaluate``: losses, PSNR, SSIM and speed on photos, or the warping error on a clip (``--video``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..defaults import BLEND, DENOISE, STABILITY, STYLES_DIR, VGG_ENV, VGG_WEIGHTS, trained_sizes
from ..errors import StylenetError
from .common import EXIT_BAD_INPUT, EXIT_OK, add_precision, err, style_name

NAME = "evaluate"
HELP = "measure losses, PSNR, SSIM and speed on photos"
DESCRIPTION = "Evaluate trained styles and/or optimization on a folder of photos (table and JSON)."


def add_arguments(s: argparse.ArgumentParser) -> None:
    from ..video.flow import FLOWS

    s.add_argument(
        "--style", action="append", required=True, help="style name, weights file, or optimize:STEPS; repeatable"
    )
    s.add_argument("--network", help="the multi-style network that style names and mixes select from")
    s.add_argument("--photos", help="folder of photos, or a .txt file of paths")
    s.add_argument(
        "--reference",
        action="append",
        help="rows of an earlier --json report of the same photos and settings (e.g. an optimize:100 run); repeatable",
    )
    s.add_argument("--video", help="a clip: temporal warping error and losses, per-frame against stable")
    s.add_argument("--max-frames", type=int, help="--video: at most this many frames")
    s.add_argument("--max-side", type=int, help="--video: scale frames' longer side down to this")
    s.add_argument("--stability", type=float, action="append", help="--video: a stable row's momentum (repeatable)")
    s.add_argument("--denoise", type=float, action="append", help="--video: a stable row's denoise (repeatable)")
    s.add_argument("--blend", type=float, action="append", help="--video: a stable row's blend (repeatable)")
    s.add_argument(
        "--flow",
        choices=FLOWS,
        default="dis",
        help="--video: optical flow of the warping error (dis: the one denoise/blend follow; farneback: a check)",
    )
    s.add_argument("--holdout", type=int, help="use the folder's training hold-out set of this size")
    s.add_argument("--limit", type=int, help="at most this many photos")
    s.add_argument("--size", type=int, help="photo size (default: the style's training crop, else 256)")
    s.add_argument("--style-image", help="the painting (default: the card's image, from --styles-dir)")
    s.add_argument("--styles-dir", default=STYLES_DIR, help=f"where style images are (default {STYLES_DIR})")
    s.add_argument("--style-size", type=int, help="style image size (default: as trained)")
    for term in ("content", "style", "tv"):
        s.add_argument(
            f"--{term}-weight",
            type=float,
            help="the loss weight optimize:N rows use (default: the first style's card; pin it to compare recipes)",
        )
    s.add_argument("--vgg", help=f"VGG weights (default: ${VGG_ENV} or {VGG_WEIGHTS})")
    s.add_argument("--device", default="cpu")
    add_precision(s, "the networks' precision (optimize:N rows always run in fp32)")
    s.add_argument("--json", help="also write per-image results to this JSON file")
    s.add_argument("--per-image", action="store_true", help="print every photo's row")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def run(a: argparse.Namespace) -> int:
    from ..io.download import sha256_file
    from ..loss.from_card import criterion_for, style_image_for
    from ..quality.evaluate import evaluate, select_photos
    from ..quality.reports import format_table, loss_settings, saved_results
    from ..styles.load import one_style

    if a.video:
        return _evaluate_video(a)
    if not a.photos:
        raise StylenetError("evaluate needs --photos FOLDER (or --video CLIP)")
    methods: dict[str, object] = {}
    card: dict = {}
    for s in a.style:
        if s.startswith("optimize"):
            steps = int(s.partition(":")[2] or 100)
            methods[f"optimize, {steps} L-BFGS steps"] = ("optimize", steps)
        else:
            net, _ = one_style(s, None if Path(s).is_file() else a.network, a.device)
            label = style_name(s)
            methods[s if label in methods else label] = net  # two files of one name: their paths
            card = card or net.card
    size, style_size = trained_sizes(card, a.size, a.style_size)
    style_image = a.style_image or style_image_for(card, a.styles_dir)
    weights = {"content_weight": a.content_weight, "style_weight": a.style_weight, "tv_weight": a.tv_weight}
    criterion = criterion_for(card, a.vgg, style_image, style_size, a.device, weights)
    photos = select_photos(a.photos, a.holdout, a.limit)
    measured = {"photos": [p.name for p in photos], "size": size, "style_image": str(style_image)}
    measured |= {"style_size": style_size, "vgg": criterion.vgg.describe(), "loss": loss_settings(criterion)}
    measured["style_image_sha256"] = sha256_file(style_image)
    saved = [row for ref in a.reference or [] for row in saved_results(ref, measured)]  # checked before any work
    results = evaluate(
        methods, photos, criterion, size=size, device=a.device, progress=not a.quiet, precision=a.precision
    )
    results += saved
    print(f"style image {style_image} at {style_size} px, photos at {size} px, VGG {criterion.vgg.describe()}")
    print(format_table(results))
    if a.per_image:
        for r in results:
            for row in r.images:
                print(
                    f"  {r.label:28s} {row['photo']:32s} " + " ".join(f"{k}={row[k]:.4g}" for k in row if k != "photo")
                )
    if a.json:
        report = {
            "style_image": str(style_image),
            "style_image_sha256": measured["style_image_sha256"],
            "style_size": style_size,
            "size": size,
            "vgg": criterion.vgg.describe(),
            "loss": measured["loss"],
            "photos": [str(p) for p in photos],
            "results": {r.label: {"mean": r.mean(), "images": r.images} for r in results},
        }
        Path(a.json).write_text(json.dumps(report, indent=2))
        print(f"wrote {a.json}")
    return EXIT_OK


def _evaluate_video(a: argparse.Namespace) -> int:
    """``evaluate --video``: warping error and losses of the input, per-frame and stable stylization."""
    import itertools

    from ..loss.from_card import criterion_for, style_image_for
    from ..quality.evaluate_video import evaluate_video
    from ..quality.reports import format_video_table
    from ..styles.load import one_style
    from ..video.stabilize import check_stability, check_weight

    if len(a.style) != 1:
        raise StylenetError(f"--video evaluates one style; got {len(a.style)} (--style {' --style '.join(a.style)})")
    net, _ = one_style(a.style[0], a.network, a.device)
    settings = {"per-frame": (0.0, 0.0, 0.0)}  # then a row for each combination asked for
    for m, d, b in itertools.product(a.stability or [STABILITY], a.denoise or [DENOISE], a.blend or [BLEND]):
        settings[f"stable {m:g}, denoise {d:g}, blend {b:g}"] = (
            check_stability(m),
            check_weight(d, "denoise"),
            check_weight(b, "blend"),
        )
    card = net.card
    _, style_size = trained_sizes(card, style_size=a.style_size)
    style_image = a.style_image or style_image_for(card, a.styles_dir)
    criterion = criterion_for(card, a.vgg, style_image, style_size, a.device)
    means, warping, problem = evaluate_video(
        a.video,
        net,
        criterion,
        settings,
        a.max_frames,
        a.max_side,
        a.device,
        progress=not a.quiet,
        flow=a.flow,
        precision=a.precision,
    )
    print(
        f"{a.video}, style {a.style[0]}, style image {style_image} at {style_size} px, VGG {criterion.vgg.describe()}, "
        f"{a.flow} optical flow"
    )
    print(format_video_table(means, warping.pairs, warping.cuts))
    if problem:
        err(f"{a.video}: {problem}")
    if a.json:
        report = {
            "video": str(a.video),
            "style": a.style[0],
            "pairs": warping.pairs,
            "cuts_left_out": warping.cuts,
            "max_side": a.max_side,
            "flow": a.flow,
            "rows": means,
        }
        Path(a.json).write_text(json.dumps(report, indent=2))
        print(f"wrote {a.json}")
    return EXIT_BAD_INPUT if problem else EXIT_OK
