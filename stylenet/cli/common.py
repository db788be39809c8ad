"""What several commands share: exit statuses, style labels, ``--style``/``--style-image``, ``--precision``."""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
from pathlib import Path

from ..defaults import PAINTING_SIZE
from ..errors import StylenetError

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2


def err(msg: str) -> None:
    from tqdm import tqdm

    tqdm.write(f"error: {msg}", file=sys.stderr)  # clean even while a progress bar is drawn


def style_name(style: str) -> str:
    """A style argument as people read it: a weights file's stem, else the argument (a name or a mix)."""
    return Path(style).stem if Path(style).suffix == ".safetensors" else style


def file_label(style: str) -> str:
    """A file-name-safe label of a style argument (a name, a file, or a mix)."""
    import re

    return re.sub(r"[^\w.-]+", "-", style_name(style)).strip("-") or "styled"


def parse_style_image(spec: str) -> tuple[str, float]:
    """``painting.jpg`` or ``painting.jpg:0.7`` -> (path, weight). A path that exists is taken whole
    (even with a colon in its name); else the part after the last colon must be a weight."""
    if Path(spec).exists():
        return spec, 1.0
    path, sep, weight = spec.rpartition(":")
    if not sep or not path:
        return spec, 1.0
    try:
        w = float(weight)
    except ValueError:
        if Path(path).exists():
            raise StylenetError(
                f"--style-image {spec}: {weight!r} after ':' is not a weight; give a number >= 0"
            ) from None
        return spec, 1.0  # a colon in a (missing) file's name: the file check names it
    if not (w >= 0 and math.isfinite(w)):
        raise StylenetError(f"--style-image {spec}: the weight after ':' must be a finite number >= 0")
    return path, w


STYLE_CHOICE = {  # usage errors: whether --style was given
    True: "--style (a trained style) and --style-image (any painting) exclude each other; give one of them",
    False: "give --style NAME (a trained style) or --style-image PAINTING[:WEIGHT] (any painting)",
}


def style_choice(a: argparse.Namespace) -> tuple[list[str], list[float]] | None:
    """The paintings and weights of ``--style-image`` (None: ``--style`` is used); exactly one of the two."""
    if bool(a.style) == bool(a.style_image):
        raise StylenetError(STYLE_CHOICE[bool(a.style)])
    if not a.style_image:
        return None
    pairs = [parse_style_image(s) for s in a.style_image]
    if not any(w > 0 for _, w in pairs):
        raise StylenetError(
            f"--style-image weights {[w for _, w in pairs]}: give at least one painting a weight above 0"
        )
    return [p for p, _ in pairs], [w for _, w in pairs]


LABEL_MAX = 60  # characters of a style's part of an output name (file names stop at 255 bytes)


def output_label(a: argparse.Namespace, paintings: tuple[list[str], list[float]] | None) -> str:
    """The style's part of output file names (``photo_LABEL.jpg``): ``--style``'s, else the paintings' stems;
    a longer one is cut to ``LABEL_MAX`` characters, with a digest of the whole so that labels stay distinct."""
    label = file_label(a.style) if paintings is None else file_label("-".join(Path(p).stem for p in paintings[0]))
    if len(label) <= LABEL_MAX:
        return label
    return f"{label[: LABEL_MAX - 9]}-{hashlib.sha256(label.encode()).hexdigest()[:8]}"


def add_precision(s: argparse.ArgumentParser, what: str = "") -> None:
    from ..precision import INFERENCE

    s.add_argument(
        "--precision",
        choices=INFERENCE,
        default="auto",
        help=f"{what + ': ' if what else ''}auto (default) = bf16 where the hardware computes it natively, else fp32",
    )


def positive_int(v: str) -> int:
    """An argparse type: a whole number, 1 or more."""
    if not v.isdigit() or int(v) < 1:
        raise argparse.ArgumentTypeError(f"{v}: use a whole number, 1 or more")
    return int(v)


def _whole(v: str) -> int | str:
    return int(v) if v.removeprefix("-").isdigit() else v


def style_size_arg(v: str) -> int | str:
    """``--style-size``: ``auto`` or a side in pixels (``stylenet.infer.arbitrary.style_size_fix``)."""
    from ..infer.arbitrary import style_size_fix

    if fix := style_size_fix(_whole(v)):
        raise argparse.ArgumentTypeError(f"{v}: {fix}")
    return _whole(v)


def tile_arg(v: str) -> int:
    """``--tile``: a tile side in pixels (``stylenet.infer.stylize.tile_fix``)."""
    from ..infer.stylize import tile_fix

    if fix := tile_fix(_whole(v)):
        raise argparse.ArgumentTypeError(f"{v}: {fix}")
    return int(v)


def add_style_size(s: argparse.ArgumentParser, what: str) -> None:
    s.add_argument(
        "--style-size",
        type=style_size_arg,
        default="auto",
        help=f"{what}: the painting's shorter side (auto: the network's, {PAINTING_SIZE} for AdaIN, a predictor's own)",
    )


def add_style_image(s: argparse.ArgumentParser) -> None:
    s.add_argument(
        "--style-image",
        action="append",
        metavar="PAINTING[:WEIGHT]",
        help="any painting as the style (an AdaIN decoder or style predictor: --network); repeat to mix: "
        "--style-image a.jpg:0.7 --style-image b.jpg:0.3. Not with --style",
    )
    add_style_size(s, "--style-image")
    s.add_argument("--vgg", help="--style-image: the network's VGG weights, if not where its file's header says")
