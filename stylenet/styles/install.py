"""``install``: a trained weights file into the cache (``$STYLENET_HOME/styles``), under a name ``load`` finds."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from ..errors import StylenetError
from ..io.download import sha256_file
from ..io.files import atomic_write
from ..io.weights import read_weights
from .registry import Style, cache_dir, is_shipped


def install(weights: str | os.PathLike, name: str | None = None, overwrite: bool = False) -> Style:
    """Copy an exported weights file into the cache so that ``load(name)`` finds it (an AdaIN decoder or a
    style predictor: so that ``style_image=`` finds it by name, ``stylenet.infer.arbitrary``)."""
    from ..infer.arbitrary import arbitrary_card

    card = arbitrary_card(weights)  # verifies the file before it enters the cache
    if card is None:
        _, _, card = read_weights(weights)
    name = name or card.get("style") or Path(weights).stem
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", str(name)):
        raise StylenetError(
            f"style name {name!r} is not a plain name (letters, digits, '_', '.', '-'); install with --name NAME"
        )
    if is_shipped(name):
        raise StylenetError(f"{name!r} is a shipped style; install under another name with --name")
    dest = cache_dir() / f"{name}.safetensors"
    if dest.exists() and not overwrite:
        raise FileExistsError(f"style {name!r} is already installed at {dest}; pass --overwrite to replace it")
    with atomic_write(dest, overwrite) as tmp:
        shutil.copyfile(weights, tmp)
        digest = sha256_file(tmp)
    dest.with_suffix(".json").write_text(json.dumps({"sha256": digest, "card": card}, indent=2))
    return Style(name, digest, "cache", dest, None, card)
