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

import json
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import StylenetError
from ..io.images import ImageError, list_images, load_image
from ..io.photos import load_photo, split_holdout
from ..loss.perceptual import (
    DEFAULT_CONTENT_WEIGHT,
    DEFAULT_STYLE_WEIGHT,
    DEFAULT_TV_WEIGHT,
    PerceptualLoss,
    build_perceptual_loss,
)
from ..model.fast import Runner
from ..video.stabilize import WarpingError, frame_tensor, tensor_frame
from .optimize import loss_config, optimize

METRICS = ("content", "style", "psnr", "ssim", "seconds")
# what a report measured with, besides its photos: the painting (its name and SHA-256), sizes, VGG and loss
SETTINGS = ("style_image", "style_image_sha256", "style_size", "size", "vgg", "loss")


def loss_settings(criterion: PerceptualLoss) -> dict:
    """What defines ``criterion``'s figures, as a report records it: its layers with their weights
    (the content and style losses) and its term weights (what ``optimize:N`` rows optimized)."""
    return {
        "content_layers": dict(criterion.content_layers),
        "style_layers": dict(criterion.style_layers),
        "content_weight": float(criterion.content_weight),
        "style_weight": float(criterion.style_weight),
        "tv_weight": float(criterion.tv_weight),
    }


def _difference(saved, value) -> str:
    """The first difference between a saved setting and this run's, in a few words."""
    if isinstance(saved, dict) and isinstance(value, dict):
        for k in (*saved, *(k for k in value if k not in saved)):
            if saved.get(k) != value.get(k):
                return f"{k} {saved.get(k)!r}, this run {value.get(k)!r}"
    return f"{saved!r}, this run {value!r}"


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


@dataclass
class MethodResult:
    label: str
    images: list[dict] = field(default_factory=list)

    def mean(self) -> dict[str, float]:
        return {k: statistics.fmean(r[k] for r in self.images) for k in METRICS if self.images}


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
    size: int = 256,
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


def saved_results(report: str | Path, measured: dict) -> list[MethodResult]:
    """The method rows of an earlier ``evaluate --json`` report, labelled "(saved)", if it measured
    what this run measures: ``measured`` holds this run's ``photos`` and ``SETTINGS`` (files
    compared by name: the folders may be reached by other paths; the painting by name and
    SHA-256; the loss by its layers and weights, ``loss_settings``). An optimization reference
    costs minutes per photo; measured once, it serves every later network on the same photos."""
    try:
        data = json.loads(Path(report).read_text())
        data["photos"] = [Path(p).name for p in data["photos"]]
        data["style_image"] = Path(data["style_image"]).name
        rows = data["results"]
    except FileNotFoundError:
        raise StylenetError(f"--reference {report}: no such file") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise StylenetError(f"--reference {report}: not an `evaluate --json` report ({e})") from None
    measured = {**measured, "photos": [Path(p).name for p in measured["photos"]]}
    measured["style_image"] = Path(measured["style_image"]).name
    for key, value in measured.items():
        if key not in data:
            raise StylenetError(
                f"--reference {report}: records no {key.replace('_', ' ')} (an older report), so it cannot be "
                "checked against this run; measure it again"
            )
        if data[key] != value:
            what = "style image" if key == "style_image_sha256" else key.replace("_", " ")
            raise StylenetError(
                f"--reference {report}: measured with another {what} ({_difference(data[key], value)}); "
                "evaluate with the same settings (--content-weight, --style-weight, --tv-weight pin the loss's "
                "weights) or measure it again"
            )
    return [MethodResult(f"{label} (saved)", r["images"]) for label, r in rows.items() if label != "photo (unstylized)"]


def merge_reports(reports: list[dict]) -> dict:
    """One ``evaluate --json`` report from reports of disjoint photo sets measured with the same
    settings and methods, as if measured in one run: an optimization reference can then be
    measured a few photos at a time and survive an interrupted session."""
    first = reports[0]
    for r in reports[1:]:
        for key in SETTINGS:
            if r.get(key) != first.get(key):
                raise StylenetError(
                    f"cannot merge reports measured with another {key} ({_difference(r.get(key), first.get(key))})"
                )
        if list(r["results"]) != list(first["results"]):
            raise StylenetError(
                f"cannot merge reports of other methods ({list(r['results'])}, {list(first['results'])})"
            )
    photos = [p for r in reports for p in r["photos"]]
    if len({Path(p).name for p in photos}) != len(photos):
        raise StylenetError("cannot merge reports that share photos")
    results = {}
    for label in first["results"]:
        result = MethodResult(label, [row for r in reports for row in r["results"][label]["images"]])
        results[label] = {"mean": result.mean(), "images": result.images}
    return {**{k: first[k] for k in SETTINGS if k in first}, "photos": photos, "results": results}


def format_table(results: list[MethodResult]) -> str:
    head = f"{'method':28s} {'content':>8s} {'style':>8s} {'PSNR dB':>8s} {'SSIM':>6s} {'s/image':>8s}"
    lines = [head]
    for r in results:
        m = r.mean()
        lines.append(
            f"{r.label:28s} {m['content']:8.3f} {m['style']:8.3f} {m['psnr']:8.2f} {m['ssim']:6.3f} {m['seconds']:8.3f}"
        )
    n = len(results[0].images)
    lines.append(f"(means over {n} photos; losses relative, as in training: lower is closer)")
    return "\n".join(lines)


def trained_loss(card: dict, weights: dict[str, float | None] | None = None) -> dict:
    """The loss ``criterion_for`` runs for ``card``, as ``loss_config``'s arguments: its layers
    and weights (the defaults where the card has none), the style's own style weight (a
    multi-style row's) over the network's, then the non-None ``weights`` over both."""
    trained = dict(card.get("loss", {}))
    if card.get("style_weight") is not None:
        trained["style_weight"] = card["style_weight"]
    trained.update({k: v for k, v in (weights or {}).items() if v is not None})
    return {
        "content_weight": trained.get("content_weight", DEFAULT_CONTENT_WEIGHT),
        "style_weight": trained.get("style_weight", DEFAULT_STYLE_WEIGHT),
        "tv_weight": trained.get("tv_weight", DEFAULT_TV_WEIGHT),
        "content_layers": trained.get("content_layers"),
        "style_layers": trained.get("style_layers"),
    }


def criterion_for(
    card: dict,
    vgg: str | None,
    style_image: str | Path,
    style_size: int,
    device: str = "cpu",
    weights: dict[str, float | None] | None = None,
) -> PerceptualLoss:
    """The loss a style was trained with (``trained_loss``: its card's layers and weights, the
    style's own style weight over the network's; the defaults for an empty card), with
    ``style_image`` at ``style_size`` as its style.

    ``weights`` (``content_weight``, ``style_weight``, ``tv_weight``; None: the card's) pins
    the weights, which change only optimization's result and the total, not the content and
    style losses reported: an optimization reference stays the same whatever recipe the
    networks compared with it were trained with."""
    cfg = loss_config(vgg, **trained_loss(card, weights))
    criterion = build_perceptual_loss(cfg).to(device)
    criterion.set_style(load_image(style_image, style_size).to(device))
    return criterion


def style_image_for(card: dict, styles_dir: str | Path) -> Path:
    """The style image a card names, found in ``styles_dir`` and checked by SHA-256."""
    from ..io.download import sha256_file

    info = card.get("style_image", {})
    name = info.get("file")
    path = Path(styles_dir) / name if name else None
    if path is None or not path.is_file():
        raise StylenetError(
            f"the style image {name or '(not named in the card)'} is not in {styles_dir}; "
            "pass --style-image /path/to/painting.jpg or --styles-dir"
        )
    if info.get("sha256") and sha256_file(path) != info["sha256"]:
        raise StylenetError(f"{path} is not the image this style was trained on (SHA-256 differs); pass --style-image")
    return path


# -- video -----------------------------------------------------------------------------------
VIDEO_METRICS = ("warping", "content", "style", "seconds")


def evaluate_video(
    clip: str | Path,
    net: torch.nn.Module,
    criterion: PerceptualLoss,
    settings: dict[str, tuple[float, float, float]],
    max_frames: int | None = None,
    max_side: int | None = None,
    device: str = "cpu",
    progress: bool = True,
    flow: str = "dis",
    precision: str = "auto",
) -> tuple[dict[str, dict[str, float]], WarpingError, str | None]:
    """Temporal warping error and losses of ``net`` on a clip, for each ``{label: (stability, denoise, blend)}``
    (``stylenet.video.stylize.stylize_video``'s settings).

    Returns ``({label: {metric: mean}}, the warping error's accumulator (``pairs``, ``cuts``),
    problem)``; the first row, "input clip", holds the input frames' own figures. Losses are
    per-frame means, computed on the frames as stylized (``max_side``); the warping error
    (``stylenet.video.stabilize``) is a mean over consecutive pairs of one shot, along ``flow``
    ("dis", the flow ``denoise`` and ``blend`` follow, or "farneback", an independent check). ``problem`` says
    why decoding stopped early, if it did.
    """
    from ..io.progress import progress_bar
    from ..video.stabilize import ClipStylizer
    from ..video.stylize import _av, fit_size, frame_to_rgb, open_clip

    av = _av()
    runner = Runner(device, precision)
    stylizers = {label: ClipStylizer(net, runner, *s) for label, s in settings.items()}
    warping = WarpingError(flow)
    sums = {label: dict.fromkeys(VIDEO_METRICS, 0.0) for label in ("input clip", *settings)}
    n, problem = 0, None
    with open_clip(clip) as container:
        stream = container.streams.video[0]
        total = min(stream.frames or max_frames or 0, max_frames or stream.frames) or None
        bar = progress_bar(total=total, desc=Path(clip).name, unit="frame", disable=not progress)
        try:
            for frame in container.decode(stream):
                if max_frames and n >= max_frames:
                    break
                size = fit_size(frame.width, frame.height, max_side)
                rgb = frame_to_rgb(frame, *size)
                x = frame_tensor(rgb)
                outputs = {}
                for label, stylize_frame in stylizers.items():
                    start = time.perf_counter()
                    outputs[label] = stylize_frame(rgb)
                    sums[label]["seconds"] += time.perf_counter() - start
                for label, y in [("input clip", x), *outputs.items()]:
                    with torch.inference_mode():
                        parts = criterion(y.to(device), x.to(device))
                    sums[label]["content"] += float(parts["content"])
                    sums[label]["style"] += float(parts["style"])
                warping.add(rgb, {k: tensor_frame(y) for k, y in outputs.items()})
                n += 1
                bar.update(1)
        except av.FFmpegError as e:
            problem = f"decoding stopped after {n} frames: {e.strerror or e}"
        finally:
            bar.close()
    if not warping.pairs:
        raise StylenetError(f"{clip}: {n} frame(s) decoded and no two of one shot; the warping error needs a pair")
    errors = warping.means()
    means = {}
    for label, s in sums.items():
        means[label] = {k: s[k] / n for k in ("content", "style", "seconds")}
        means[label]["warping"] = errors["input" if label == "input clip" else label]
    return means, warping, problem


def format_video_table(means: dict[str, dict[str, float]], pairs: int, cuts: int) -> str:
    base = means.get("per-frame", {}).get("warping")
    head = f"{'row':36s} {'warping error':>13s} {'vs per-frame':>12s} {'content':>8s} {'style':>8s} {'s/frame':>8s}"
    lines = [head]
    for label, m in means.items():
        ratio = f"{m['warping'] / base:11.2f}x" if base else f"{'':>12s}"
        lines.append(
            f"{label:36s} {m['warping'] * 1e3:10.3f}e-3 {ratio} {m['content']:8.3f} {m['style']:8.3f} {m['seconds']:8.3f}"
        )
    lines.append(
        f"({pairs + cuts + 1} frames, {pairs} pairs" + (f", {cuts} across cuts left out" if cuts else "") + "; "
        "warping error: mean squared difference of consecutive outputs along the input's optical flow, "
        "occlusions masked, pixels in [0, 1]; losses: per-frame means, relative as in training)"
    )
    return "\n".join(lines)
