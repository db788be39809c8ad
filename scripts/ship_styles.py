#!/usr/bin/env python
"""Package trained runs as the styles shipped inside stylenet (stylenet/styles/).

  python scripts/ship_styles.py runs/ship/mosaic runs/ship/candy ... --vgg ../shared/weights/vgg16_features_hed.pth

For each run folder (a scripts/train.py output with <style>.safetensors and card.json):
evaluates the network on the training hold-out photos (never trained on) with the
training loss definitions and real VGG weights, writes the weights in float16 with the
completed model card to stylenet/styles/<style>.safetensors, and records the file's
SHA-256 and card in stylenet/styles/index.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from stylenet.cli_errors import report_errors
from stylenet.download import sha256_file
from stylenet.errors import StylenetError
from stylenet.evaluate import criterion_for, evaluate, select_photos, style_image_for
from stylenet.export import load_weights, save_weights

PACKAGE = Path(__file__).resolve().parent.parent / "stylenet" / "styles"
DATA_NOTE = (
    "{n} photos from ../shared/data/photos (128 COCO train2017 and 300 BSDS500 images) standing in for "
    "COCO train2014, which this offline workplace cannot download; {holdout} more held out for evaluation"
)


def evaluation(net, card: dict, photos_root: Path, styles_dir: Path, vgg: str) -> dict:
    image = style_image_for(card, styles_dir)  # the painting it was trained on, checked by SHA-256
    criterion = criterion_for(card, vgg, image, card["style_image"]["size"])
    photos = select_photos(photos_root, holdout=card["training_data"]["holdout"])
    size = card["recipe"]["image_size"]
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="run folders of scripts/train.py")
    p.add_argument("--photos", default="../shared/data/photos", help="the training photo folder")
    p.add_argument("--styles-dir", default="../shared/data/styles", help="the style images")
    p.add_argument("--vgg", default="../shared/weights/vgg16_features_hed.pth", help="VGG weights for evaluation")
    p.add_argument("--note", default="", help="a sentence added to every card (what was run, and where)")
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
            card["training_data"]["note"] = DATA_NOTE.format(n=card["training_data"]["photos"], holdout=held)
            card["evaluation"] = evaluation(net, card, Path(a.photos), Path(a.styles_dir), a.vgg)
            card["weights"] = "float16"
            if a.note:
                card["note"] = a.note
            out = save_weights(net, PACKAGE / f"{name}.safetensors", card, half=True, overwrite=True)
            index["styles"][name] = {"file": out.name, "sha256": sha256_file(out), "card": card}
            ev = card["evaluation"]
            print(
                f"{name}: {out.stat().st_size / 1e6:.2f} MB; held-out style loss {ev['photo_style_loss']:.3f} -> "
                f"{ev['output_style_loss']:.3f}, content loss {ev['output_content_loss']:.3f}, "
                f"{ev['seconds_per_image'] * 1000:.0f} ms/image"
            )
        index["styles"] = dict(sorted(index["styles"].items()))
        index_path.write_text(json.dumps(index, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
