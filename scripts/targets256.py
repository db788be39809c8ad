#!/usr/bin/env python
"""Issue 14's targets, per style: a network against its optimize:100 reference at 256 px.

  python scripts/targets256.py                          # the shipped styles that have a reference
  python scripts/targets256.py mosaic candy --weights runs/classic/<run>/classic.safetensors

For each style with a report in docs/bench/reference256/ (scripts/reference256.sh), evaluates
the style as shipped (or the row of that name in --weights) on the report's photos (20
held-out photos at 256 px) with the report's style image, style size and VGG, checked as
`stylenet evaluate --reference` checks them, and prints its content and style loss as
multiples of optimize:100's beside the targets: content at most 1.5x, style at most 1x.
About 20 s a style on one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import stylenet
from stylenet.cli.errors import report_errors
from stylenet.io.download import sha256_file
from stylenet.loss.from_card import criterion_for, style_image_for
from stylenet.quality.evaluate import evaluate
from stylenet.quality.reports import loss_settings, saved_results

REFERENCES = Path(__file__).resolve().parent.parent / "docs" / "bench" / "reference256"
OPTIMIZE = "optimize, 100 L-BFGS steps (saved)"
CONTENT_BOUND, STYLE_BOUND = 1.5, 1.0  # issue 14: content at most 1.5x optimize:100's, style at most its


def verdict(network: dict, reference: dict) -> tuple[float, float, str]:
    """``network``'s mean content and style loss as multiples of ``reference``'s, and the verdict."""
    content, style = network["content"] / reference["content"], network["style"] / reference["style"]
    missed = [f"content {content:.2f}x > {CONTENT_BOUND:g}x"] if content > CONTENT_BOUND else []
    missed += [f"style {style:.2f}x > {STYLE_BOUND:g}x"] if style > STYLE_BOUND else []
    return content, style, "met" if not missed else "missed: " + ", ".join(missed)


def measure(style: str, report: Path, a: argparse.Namespace) -> tuple[dict, dict]:
    """(the network's mean losses, optimize:100's) on ``report``'s photos and settings."""
    net = stylenet.load(style, network=a.weights)  # the shipped style, or the row of --weights with its card
    card = net.card
    data = json.loads(report.read_text())
    photos = [Path(a.photos) / Path(p).name if a.photos else Path(p) for p in data["photos"]]
    image = style_image_for(card, a.styles_dir)
    # the card's layers; the term weights the reference's optimization ran with (pinned by reference256.sh),
    # which leave the network's content and style losses as they are
    pinned = {k: data.get("loss", {}).get(k) for k in ("content_weight", "style_weight", "tv_weight")}
    criterion = criterion_for(card, a.vgg, image, data["style_size"], weights=pinned)
    measured = {"photos": photos, "size": data["size"], "style_image": str(image), "style_size": data["style_size"]}
    measured |= {"style_image_sha256": sha256_file(image), "loss": loss_settings(criterion)}
    saved = saved_results(report, measured | {"vgg": criterion.vgg.describe()})
    optimized = next((r for r in saved if r.label == OPTIMIZE), None)
    if optimized is None:
        raise stylenet.StylenetError(f"{report}: no optimize:100 row")
    results = evaluate({style: net}, photos, criterion, size=data["size"], progress=False)
    return results[1].mean(), optimized.mean()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("styles", nargs="*", help="styles (default: every style with a reference)")
    p.add_argument("--weights", help="a multi-style weights file whose rows to measure (default: the shipped styles)")
    p.add_argument("--references", type=Path, default=REFERENCES, help="the folder of <style>.json reports")
    p.add_argument("--photos", help="the folder holding the reports' photos (default: their paths in the reports)")
    p.add_argument("--styles-dir", type=Path, default=Path("../shared/data/styles"), help="the style images")
    p.add_argument("--vgg", default=os.environ.get("STYLENET_VGG"), help="VGG weights (default: $STYLENET_VGG)")
    a = p.parse_args(argv)
    with report_errors():
        styles = a.styles or sorted(f.stem for f in a.references.glob("*.json"))
        if not styles:
            raise stylenet.StylenetError(f"{a.references}: no reference reports; run scripts/reference256.sh first")
        for style in styles:
            if not (a.references / f"{style}.json").is_file():
                raise stylenet.StylenetError(
                    f"{a.references}: no reference for {style}; run scripts/reference256.sh {style}"
                )
        print(f"{'style':16s} {'optimize:100':>15s} {'network':>15s} {'content':>8s} {'style':>7s}  verdict")
        for style in styles:
            net, ref = measure(style, a.references / f"{style}.json", a)
            content, style_ratio, words = verdict(net, ref)
            print(
                f"{style:16s} {ref['content']:7.3f}/{ref['style']:.3f} {net['content']:7.3f}/{net['style']:.3f} "
                f"{content:7.2f}x {style_ratio:6.2f}x  {words}"
            )
        print(f"(means over each report's photos; targets: content at most {CONTENT_BOUND:g}x, style at most 1x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
