#!/usr/bin/env python
"""Fetch training data (see data/README.md).

python scripts/download.py styles [--dest data/styles]   # the style images of configs/style/, SHA-256 checked
python scripts/download.py coco   [--dest data/coco]     # COCO train2014, 13 GB, unpacked to data/coco/train2014
"""

import argparse
import sys
from pathlib import Path

from stylenet.cli.errors import report_errors
from stylenet.defaults import STYLES_DIR
from stylenet.io.download import COCO_TRAIN2014, fetch_coco, fetch_style_images

CONFIG_DIR = Path(__file__).resolve().parent.parent / "stylenet" / "configs"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["styles", "coco"])
    p.add_argument("--dest", help="target folder (default data/styles or data/coco)")
    p.add_argument("--url", default=COCO_TRAIN2014, help="COCO archive URL (a mirror)")
    p.add_argument("--keep-zip", action="store_true", help="keep the COCO archive after unpacking")
    a = p.parse_args(argv)
    with report_errors():
        if a.what == "styles":
            files = fetch_style_images(CONFIG_DIR, a.dest or STYLES_DIR)
            print(f"{len(files)} style images in {a.dest or STYLES_DIR}")
        else:
            folder = fetch_coco(a.dest or "data/coco", a.url, a.keep_zip)
            print(f"COCO photos in {folder}; train with data.root={folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
