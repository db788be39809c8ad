#!/usr/bin/env python
"""Package trained runs as the styles shipped inside stylenet (stylenet/styles/).

  python scripts/ship_styles.py runs/ship/mosaic runs/ship/candy ... --vgg ../shared/weights/vgg16_features_hed.pth
  python scripts/ship_styles.py runs/classic/<run>      # a multi-style network

For each run folder (a scripts/train.py output with <name>.safetensors and card.json):
evaluates the network on the training hold-out photos (never trained on) with the
training loss definitions and real VGG weights, writes the weights in float16 with the
completed model card to stylenet/styles/<name>.safetensors, and records the file's
SHA-256 and card in stylenet/styles/index.json.

A multi-style network is evaluated style by style (each row's evaluation goes into its
block of the card) and listed under its own name. Each of its styles then becomes the
style of that name when it is at least as good as the shipped single-style file or row on
the same photos at the same size (content and style loss both no higher; the shipped one
is evaluated again when its card's figures are at another size), or when named in --use-rows; the
single-style file is removed then. Either way the style's card says which network
serves the name and why.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from stylenet.cli.errors import report_errors
from stylenet.defaults import trained_sizes
from stylenet.errors import StylenetError
from stylenet.io.download import sha256_file
from stylenet.io.weights import load_weights, save_weights
from stylenet.loss.from_card import criterion_for, style_image_for
from stylenet.quality.evaluate import evaluate, select_photos
from stylenet.styles.mix import row_card, select

PACKAGE = Path(__file__).resolve().parent.parent / "stylenet" / "styles"
DATA_NOTE = (
    "{n} photos from ../shared/data/photos (128 COCO train2017 and 300 BSDS500 images) standing in for "
    "COCO train2014, which this offline workplace cannot download; {holdout} more held out for evaluation"
)


def evaluation(net, card: dict, photos_root: Path, styles_dir: Path, vgg: str, size: int | None = None) -> dict:
    """``net``'s held-out losses under ``card``'s loss, at ``size`` px (default: its training crop)."""
    image = style_image_for(card, styles_dir)  # the painting it was trained on, checked by SHA-256
    size, style_size = trained_sizes(card, size)
    criterion = criterion_for(card, vgg, image, style_size)
    photos = select_photos(photos_root, holdout=card["training_data"]["holdout"])
    photo, styled = evaluate({card["style"]: net}, photos, criterion, size=size, progress=False)
    p, s = photo.mean(), styled.mean()
    return {
        "photos": f"the {len(photos)} held-out photos of {photos_root} (never trained on), {size} px centre crops",
        "vgg": criterion.vgg.describe(),
        "photo_content_loss": round(p["content"], 4),
        "photo_style_loss": round(p["style"], 4),
        "output_content_loss": round(s["content"], 4),
        "output_style_loss": round(s["style"], 4),
        "output_psnr_db": round(s["psnr"], 2),
        "output_ssim": round(s["ssim"], 4),
        "seconds_per_image": round(s["seconds"], 4),
        "command": (
            f"stylenet evaluate --style {card['style']} --photos {photos_root} --holdout "
            f"{card['training_data']['holdout']} --size {size} --style-image {image} --vgg {vgg}"
        ),
    }


def _summary(name: str, ev: dict, extra: str = "") -> None:
    print(
        f"{name}: held-out style loss {ev['photo_style_loss']:.3f} -> {ev['output_style_loss']:.3f}, "
        f"content loss {ev['output_content_loss']:.3f}, {ev['seconds_per_image'] * 1000:.0f} ms/image{extra}"
    )


def row_serves(row: str, network: str, ev: dict, shipped: dict, use_rows: list[str]) -> tuple[str | None, str]:
    """Whether row ``row`` of the new multi-style ``network`` (evaluated as ``ev``) takes the
    name ``row`` from ``shipped``, its index entry now ({} for none).

    Returns (why it serves the name, or None when the shipped single-style file keeps it;
    the comparison in words). Raises when the shipped entry was evaluated on other photos,
    or when it is a row (its single-style file is gone) that the new row is worse than.
    """
    old = shipped.get("card", {}).get("evaluation")  # the shipped single file's, or the shipped row's
    was_row = bool(shipped.get("row"))
    if old is not None and ev["photos"] != old["photos"]:
        raise StylenetError(f"{row}: the shipped {row} was evaluated on other photos; re-ship it first")
    what = "shipped row" if was_row else "single-style file"
    versus = f"{network} row: content {ev['output_content_loss']:.3f}, style {ev['output_style_loss']:.3f}; " + (
        f"{what}: content {old['output_content_loss']:.3f}, style {old['output_style_loss']:.3f}"
        if old
        else "no single-style file"
    )
    wins = old is None or (
        ev["output_content_loss"] <= old["output_content_loss"] and ev["output_style_loss"] <= old["output_style_loss"]
    )
    if wins:
        return "at least as good on both losses", versus
    if row in use_rows:
        return "named in --use-rows", versus
    if was_row:  # its single file is gone: nothing to fall back on
        raise StylenetError(
            f"{row}: the new {network} row is worse than the shipped one ({versus}); "
            f"ship the network under another name, or pass --use-rows {row}"
        )
    return None, versus


def shipped_on_the_same_photos(entry: dict, ev: dict, size: int, a: argparse.Namespace) -> dict:
    """The shipped index ``entry`` with its card's evaluation on the photos of ``ev``: as recorded,
    or measured again at ``size`` px when it was recorded on others (a run at another crop size)."""
    old = entry.get("card", {}).get("evaluation")
    if old is None or old["photos"] == ev["photos"]:
        return entry
    net, _ = load_weights(PACKAGE / entry["file"])
    if entry.get("row"):
        net = select(net, {entry["row"]: 1.0})
    again = evaluation(net, entry["card"], a.photos, a.styles_dir, a.vgg, size)
    return {**entry, "card": {**entry["card"], "evaluation": again}}


def ship_multi(card: dict, net, a: argparse.Namespace, index: dict) -> None:
    """A multi-style network: evaluate every row, let rows take the names they win, ship the file."""
    name, size = card["style"], card["recipe"]["image_size"]
    served = []
    for row in net.style_names:
        ev = evaluation(select(net, {row: 1.0}), row_card(card, row), a.photos, a.styles_dir, a.vgg)
        card["styles"][row]["evaluation"] = ev
        single = index["styles"].get(row, {})
        why, versus = row_serves(row, name, ev, shipped_on_the_same_photos(single, ev, size, a), a.use_rows)
        if why:
            card["styles"][row]["served_by"] = f"the multi-style network {name} ({why}; {versus})"
            served.append(row)
            _summary(row, ev, f"  -> served by {name} ({versus})")
        else:
            card["styles"][row]["served_by"] = f"the single-style file {single['file']} ({versus})"
            keep_single(row, single, f"this single-style file (the multi-style row is worse: {versus})")
            _summary(row, ev, f"  -> single-style file kept ({versus})")
    out = save_weights(net, PACKAGE / f"{name}.safetensors", card, half=True, overwrite=True)
    digest = sha256_file(out)
    index["styles"][name] = {"file": out.name, "sha256": digest, "card": card}
    for row in served:
        old_file = index["styles"].get(row, {}).get("file")
        if old_file and old_file != out.name:
            (PACKAGE / old_file).unlink(missing_ok=True)
        index["styles"][row] = {"file": out.name, "sha256": digest, "row": row, "card": row_card(card, row)}
    print(f"{name}: {out.stat().st_size / 1e6:.2f} MB, {len(net.style_names)} styles, serves {', '.join(served)}")


def keep_single(name: str, entry: dict, why: str) -> None:
    """Record in a kept single-style file's card (header and index) why it serves its name."""
    path = PACKAGE / entry["file"]
    net, card = load_weights(path)
    card["served_by"] = why
    save_weights(net, path, card, half=True, overwrite=True)
    entry.update(sha256=sha256_file(path), card=card)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="run folders of scripts/train.py")
    p.add_argument("--photos", type=Path, default=Path("../shared/data/photos"), help="the training photo folder")
    p.add_argument("--styles-dir", type=Path, default=Path("../shared/data/styles"), help="the style images")
    p.add_argument("--vgg", default="../shared/weights/vgg16_features_hed.pth", help="VGG weights for evaluation")
    p.add_argument("--note", default="", help="a sentence added to every card (what was run, and where)")
    p.add_argument(
        "--use-rows",
        default="",
        type=lambda s: [x for x in s.split(",") if x],
        help="styles a multi-style network serves whatever the comparison",
    )
    a = p.parse_args(argv)
    with report_errors():
        index_path = PACKAGE / "index.json"
        index = json.loads(index_path.read_text()) if index_path.is_file() else {"styles": {}}
        for run in map(Path, a.runs):
            if not (run / "card.json").is_file():
                raise StylenetError(f"{run}: no card.json (not a finished scripts/train.py run folder)")
            card = json.loads((run / "card.json").read_text())
            name = card["style"]
            net, _ = load_weights(run / f"{name}.safetensors")
            held = card["training_data"]["holdout"]
            data = card["training_data"]
            extra = data.get("extra_photos", 0)
            data["note"] = DATA_NOTE.format(n=data["photos"] - extra, holdout=held)
            if extra:  # data.extra_roots: photos_more, say
                data["note"] += f"; and {extra} more photos from {', '.join(map(str, data['extra_roots']))}"
            card["weights"] = "float16"
            if a.note:
                card["note"] = a.note
            if net.num_styles:
                ship_multi(card, net, a, index)
                continue
            card["evaluation"] = evaluation(net, card, a.photos, a.styles_dir, a.vgg)
            out = save_weights(net, PACKAGE / f"{name}.safetensors", card, half=True, overwrite=True)
            index["styles"][name] = {"file": out.name, "sha256": sha256_file(out), "card": card}
            _summary(name, card["evaluation"], f"; {out.stat().st_size / 1e6:.2f} MB")
        index["styles"] = dict(sorted(index["styles"].items()))
        index_path.write_text(json.dumps(index, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
