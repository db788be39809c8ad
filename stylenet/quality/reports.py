"""Results as people read them and as files keep them: tables, ``evaluate --json`` reports, and
reusing an earlier report's rows (``--reference``) only where it measured the same thing.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import StylenetError
from ..loss.perceptual import PerceptualLoss

METRICS = ("content", "style", "psnr", "ssim", "seconds")
# what a report measured with, besides its photos: the painting (its name and SHA-256), sizes, VGG and loss
SETTINGS = ("style_image", "style_image_sha256", "style_size", "size", "vgg", "loss")


@dataclass
class MethodResult:
    label: str
    images: list[dict] = field(default_factory=list)

    def mean(self) -> dict[str, float]:
        return {k: statistics.fmean(r[k] for r in self.images) for k in METRICS if self.images}


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
