#!/usr/bin/env python
"""A frame strip of a clip and its stylization: input frames above, the same frames stylized below.

  stylenet video ../shared/data/video/bigbuckbunny.mp4 --style starry_night -o bunny_starry.mp4
  python scripts/video_strip.py ../shared/data/video/bigbuckbunny.mp4 bunny_starry.mp4 -o docs/images/video_strip.jpg

``--frames`` frames evenly spread over the clip (or ``--at`` frame numbers), each scaled to
``--height`` pixels high. Needs the [video] extra.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from stylenet.cli.errors import report_errors
from stylenet.errors import StylenetError
from stylenet.io.images import save_image
from stylenet.video.io import frame_to_rgb, open_clip


def frames_of(clip: Path, wanted: list[int] | None, count: int) -> tuple[list[np.ndarray], list[int]]:
    """The frames numbered ``wanted`` (default: ``count`` evenly spread) as ``(H, W, 3)`` uint8."""
    with open_clip(clip) as container:
        stream = container.streams.video[0]
        total = stream.frames or sum(1 for _ in container.decode(stream))
    wanted = wanted or [round(i * (total - 1) / max(1, count - 1)) for i in range(count)]
    with open_clip(clip) as container:
        kept = {i: frame_to_rgb(f) for i, f in enumerate(container.decode(container.streams.video[0])) if i in wanted}
    missing = [i for i in wanted if i not in kept]
    if missing:
        raise StylenetError(f"{clip}: has no frame {missing[0]} ({total} frames)")
    return [kept[i] for i in wanted], wanted


def strip(rows: list[list[np.ndarray]], height: int, gap: int = 4) -> Image.Image:
    """Rows of frames, each frame scaled to ``height``, on a white sheet."""
    cells = [[Image.fromarray(f).resize((round(f.shape[1] * height / f.shape[0]), height)) for f in r] for r in rows]
    width = max(sum(c.width for c in r) + gap * (len(r) - 1) for r in cells)
    sheet = Image.new("RGB", (width, len(cells) * height + gap * (len(cells) - 1)), "white")
    for y, r in enumerate(cells):
        x = 0
        for c in r:
            sheet.paste(c, (x, y * (height + gap)))
            x += c.width + gap
    return sheet


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clip", type=Path, help="the input clip")
    p.add_argument("stylized", type=Path, help="its stylization (stylenet video)")
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--frames", type=int, default=4)
    p.add_argument("--at", type=int, nargs="+", help="frame numbers instead of an even spread")
    p.add_argument("--height", type=int, default=180)
    p.add_argument("--overwrite", action="store_true")
    a = p.parse_args(argv)
    with report_errors():
        if a.output.exists() and not a.overwrite:
            raise StylenetError(f"{a.output}: exists; pass --overwrite to replace it")
        inputs, wanted = frames_of(a.clip, a.at, a.frames)
        outputs, _ = frames_of(a.stylized, wanted, a.frames)
        save_image(strip([inputs, outputs], a.height), a.output, overwrite=a.overwrite)
    print(f"wrote {a.output} (frames {', '.join(map(str, wanted))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
