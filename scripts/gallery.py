#!/usr/bin/env python
"""Render a gallery: rows are content images, columns are styles (first column: the photo).

  python scripts/gallery.py --content ../shared/data/content -o docs/gallery.jpg
  python scripts/gallery.py --styles mosaic runs/x/y.safetensors --content a.jpg b.jpg -o out.jpg

Styles default to every shipped style. Each cell is the content image resized so that
its shorter side is --size, stylized in one forward pass, centre-cropped to a square.

  python scripts/gallery.py --content ... --size 512 --optimize 100 --styles-dir ../shared/data/styles

adds a last row: the first content image (or --optimize-content) by Gatys optimization with
each style's training loss (``stylenet.loss.from_card.criterion_for``; --style-weight etc. pin the
weights, as `make gallery` does, so the reference does not move with the recipe), the quality reference. An
optimized cell costs minutes, so each is kept in --optimize-cache and reused while its
painting, photo, size, steps and VGG stay the same.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from PIL import Image, ImageDraw

import stylenet
from stylenet.cli.errors import report_errors
from stylenet.defaults import STYLES_DIR, default_vgg, trained_sizes
from stylenet.io.download import sha256_file
from stylenet.io.files import check_output
from stylenet.io.images import list_images, open_image, save_image, split_alpha, to_pil
from stylenet.io.progress import progress_bar
from stylenet.loss.from_card import criterion_for, style_image_for, trained_loss
from stylenet.quality.optimize import optimize

LABEL = 22


def square(img: Image.Image, size: int) -> Image.Image:
    s = size / min(img.size)
    img = img.resize((max(size, round(img.width * s)), max(size, round(img.height * s))), Image.Resampling.LANCZOS)
    x, y = (img.width - size) // 2, (img.height - size) // 2
    return img.crop((x, y, x + size, y + size))


def optimized_cell(net, photo_file: Path, photo: Image.Image, steps: int, a: argparse.Namespace) -> Image.Image:
    """``photo`` optimized for ``steps`` L-BFGS steps on ``net``'s training loss, from the cache if there."""
    card = net.card
    painting = Path(a.style_image) if a.style_image else style_image_for(card, a.styles_dir)
    _, style_size = trained_sizes(card, photo.width)  # as trained, else twice the cell
    weights = {"content_weight": a.content_weight, "style_weight": a.style_weight, "tv_weight": a.tv_weight}
    # everything the optimized image depends on: the loss it runs (its layers and weights, pinned ones over the
    # card's), the VGG; so networks trained at other weights, or with other terms, share the cell under pinned weights
    key = [sha256_file(painting), sha256_file(photo_file), photo.size, steps, style_size, trained_loss(card, weights)]
    digest = hashlib.sha256("|".join(map(str, [*key, a.vgg or default_vgg()])).encode()).hexdigest()[:12]
    cached = Path(a.optimize_cache) / f"{painting.stem}_{photo_file.stem}_{photo.width}px_{steps}_{digest}.png"
    if cached.is_file():  # no VGG loaded for a cached cell
        return Image.open(cached).convert("RGB")
    criterion = criterion_for(card, a.vgg, painting, style_size, weights=weights)
    out = optimize(photo, None, steps=steps, size=None, loss=criterion, progress=True)
    cached.parent.mkdir(parents=True, exist_ok=True)
    save_image(out, cached, overwrite=True)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--styles", nargs="*", help="style names or weights files (default: all shipped styles)")
    p.add_argument("--content", nargs="+", required=True, help="content images or folders")
    p.add_argument("--size", type=int, default=256, help="cell size in pixels (default 256)")
    p.add_argument("-o", "--output", required=True, help="output image (.jpg or .png)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--optimize", type=int, default=0, help="add a row optimized with this many L-BFGS steps")
    p.add_argument("--optimize-content", help="the optimized row's photo (default: the first content image)")
    p.add_argument("--optimize-cache", default="runs/gallery-optimize", help="where optimized cells are kept")
    p.add_argument("--styles-dir", default=STYLES_DIR, help=f"the paintings (for --optimize; default {STYLES_DIR})")
    p.add_argument("--style-image", help="the painting of a single --styles file whose card names none")
    p.add_argument("--vgg", help="VGG weights for --optimize (default: $STYLENET_VGG or IMAGENET1K_FEATURES)")
    p.add_argument("--paintings", nargs="+", help="columns are these paintings (style_image=), each heading its column")
    p.add_argument("--network", help="--paintings: the AdaIN decoder or style predictor (default: the installed one)")
    for term in ("content", "style", "tv"):
        p.add_argument(f"--{term}-weight", type=float, help="--optimize's loss weight (default: the style's card)")
    a = p.parse_args(argv)
    with report_errors():
        check_output(a.output, a.overwrite)  # before minutes of stylizing, not after
        if a.paintings:
            return painting_gallery(a)
        shipped = stylenet.available_styles().items()
        # each name once; not the networks that take a painting (--paintings shows those)
        styles = a.styles or [n for n, s in shipped if s.origin == "package" and not s.styles and not s.takes_painting]
        if not styles:
            raise stylenet.StylenetError("no styles given and none shipped; pass --styles")
        contents = [f for c in a.content for f in (list_images(c) if Path(c).is_dir() else [Path(c)])]
        nets = [stylenet.load(s) for s in styles]
        names = [Path(s).stem if Path(s).is_file() else s for s in styles]  # a weights file by its stem; a mix whole
        n = a.size
        rows = len(contents) + (1 if a.optimize else 0)
        grid = Image.new("RGB", ((len(nets) + 1) * n, LABEL + rows * n), "white")
        draw = ImageDraw.Draw(grid)
        for j, name in enumerate(["photo", *names]):
            draw.text((j * n + 4, 4), name, fill="black")
        for i, f in enumerate(progress_bar(contents, desc="gallery", unit="row")):
            photo = square(to_pil(split_alpha(open_image(f))[0]), n)
            grid.paste(photo, (0, LABEL + i * n))
            for j, net in enumerate(nets):
                grid.paste(stylenet.stylize(photo, net), ((j + 1) * n, LABEL + i * n))
        if a.optimize:
            f = Path(a.optimize_content) if a.optimize_content else contents[0]
            photo, y = square(to_pil(split_alpha(open_image(f))[0]), n), LABEL + len(contents) * n
            grid.paste(photo, (0, y))
            draw.text((4, y + 4), f"optimize:{a.optimize}", fill="white", stroke_width=2, stroke_fill="black")
            for j, net in enumerate(progress_bar(nets, desc=f"optimize:{a.optimize}", unit="style")):
                grid.paste(optimized_cell(net, f, photo, a.optimize, a), ((j + 1) * n, y))
        save_image(grid, a.output, overwrite=a.overwrite, quality=90)
        extra = f" and a row optimized with {a.optimize} L-BFGS steps" if a.optimize else ""
        print(f"wrote {a.output} ({len(contents)} content images x {len(nets)} styles{extra})")


def painting_gallery(a: argparse.Namespace) -> None:
    """Rows: content images; columns: paintings, each heading its column, in one pass each."""
    from stylenet.infer.arbitrary import load_decoder

    network = load_decoder(a.network)  # once, for every cell
    contents = [f for c in a.content for f in (list_images(c) if Path(c).is_dir() else [Path(c)])]
    paintings = [Path(p) for p in a.paintings]
    n = a.size
    grid = Image.new("RGB", ((len(paintings) + 1) * n, (len(contents) + 1) * n), "white")
    for j, f in enumerate(paintings):
        grid.paste(square(to_pil(split_alpha(open_image(f))[0]), n), ((j + 1) * n, 0))
    for i, f in enumerate(progress_bar(contents, desc="gallery", unit="row")):
        photo = square(to_pil(split_alpha(open_image(f))[0]), n)
        grid.paste(photo, (0, (i + 1) * n))
        for j, painting in enumerate(paintings):
            grid.paste(stylenet.stylize(photo, style_image=painting, network=network), ((j + 1) * n, (i + 1) * n))
    save_image(grid, a.output, overwrite=a.overwrite, quality=90)
    print(f"wrote {a.output} ({len(contents)} content images x {len(paintings)} paintings)")


if __name__ == "__main__":
    sys.exit(main())
