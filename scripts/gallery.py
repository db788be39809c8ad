#!/usr/bin/env python
"""Render a gallery: rows are content images, columns are styles (first column: the photo).

  python scripts/gallery.py --content ../shared/data/content -o docs/gallery.jpg
  python scripts/gallery.py --styles mosaic runs/x/y.safetensors --content a.jpg b.jpg -o out.jpg

Styles default to every shipped style. Each cell is the content image resized so that
its shorter side is --size, stylized in one forward pass, centre-cropped to a square.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image, ImageDraw
from tqdm import tqdm

import stylenet
from stylenet.cli_errors import report_errors
from stylenet.imageio import list_images, open_image, save_image, split_alpha, to_pil

LABEL = 22


def square(img: Image.Image, size: int) -> Image.Image:
    s = size / min(img.size)
    img = img.resize((max(size, round(img.width * s)), max(size, round(img.height * s))), Image.Resampling.LANCZOS)
    x, y = (img.width - size) // 2, (img.height - size) // 2
    return img.crop((x, y, x + size, y + size))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--styles", nargs="*", help="style names or weights files (default: all shipped styles)")
    p.add_argument("--content", nargs="+", required=True, help="content images or folders")
    p.add_argument("--size", type=int, default=256, help="cell size in pixels (default 256)")
    p.add_argument("-o", "--output", required=True, help="output image (.jpg or .png)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    a = p.parse_args(argv)
    with report_errors():
        shipped = stylenet.available_styles().items()
        styles = a.styles or [n for n, s in shipped if s.origin == "package" and not s.styles]  # each name once
        if not styles:
            raise stylenet.StylenetError("no styles given and none shipped; pass --styles")
        contents = [f for c in a.content for f in (list_images(c) if Path(c).is_dir() else [Path(c)])]
        nets = [stylenet.load(s) for s in styles]
        names = [Path(s).stem if Path(s).suffix else s for s in styles]
        n = a.size
        grid = Image.new("RGB", ((len(nets) + 1) * n, LABEL + len(contents) * n), "white")
        draw = ImageDraw.Draw(grid)
        for j, name in enumerate(["photo", *names]):
            draw.text((j * n + 4, 4), name, fill="black")
        for i, f in enumerate(tqdm(contents, desc="gallery", unit="row")):
            photo = square(to_pil(split_alpha(open_image(f))[0]), n)
            grid.paste(photo, (0, LABEL + i * n))
            for j, net in enumerate(nets):
                grid.paste(stylenet.stylize(photo, net), ((j + 1) * n, LABEL + i * n))
        save_image(grid, a.output, overwrite=a.overwrite, quality=90)
        print(f"wrote {a.output} ({len(contents)} content images x {len(nets)} styles)")


if __name__ == "__main__":
    sys.exit(main())
