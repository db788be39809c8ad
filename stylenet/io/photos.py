"""Photos as training sees them: the fixed hold-out split and square crops.

Shared by training (``stylenet.training.data``) and the quality tools (``stylenet
evaluate``), which must select exactly the photos training held out; nothing here
needs Lightning.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def split_holdout(files: list[Path], root: Path, n: int) -> tuple[list[Path], list[Path]]:
    """(train, holdout): the ``n`` files whose relative path hashes lowest are held out."""
    key = {f: hashlib.sha1(f.relative_to(root).as_posix().encode()).hexdigest() for f in files}
    held = set(sorted(files, key=key.__getitem__)[:n])
    return [f for f in files if f not in held], sorted(held, key=key.__getitem__)


def load_photo(path: Path, size: int, random_crop: bool = False, short_side: int | None = None) -> torch.Tensor:
    """Decode, resize the shorter side to ``short_side`` (default ``size``) and crop a
    ``size`` square; uint8 ``(3, size, size)``.

    The crop is random for training (Python's ``random``, which DataLoader seeds per
    worker) and centred otherwise.
    """
    side = max(size, short_side or size)
    with Image.open(path) as img:
        img.draft("RGB", (side, side))  # JPEG: decode at a reduced scale when that suffices
        img = img.convert("RGB")
    scale = side / min(img.size)
    w, h = max(side, round(img.width * scale)), max(side, round(img.height * scale))
    img = img.resize((w, h), Image.Resampling.BILINEAR, reducing_gap=3.0)
    x = random.randint(0, w - size) if random_crop else (w - size) // 2
    y = random.randint(0, h - size) if random_crop else (h - size) // 2
    arr = np.asarray(img.crop((x, y, x + size, y + size)))
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)
