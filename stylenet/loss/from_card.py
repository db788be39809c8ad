"""The loss a trained style was measured with, from its model card: its layers and weights
(the defaults where the card has none), and the painting it names, found and checked.

``stylenet evaluate``, ``scripts/gallery.py`` and ``scripts/ship_styles.py`` compare
networks and optimization under this loss.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import StylenetError
from ..io.download import sha256_file
from ..io.images import load_image
from .perceptual import (
    DEFAULT_CONTENT_WEIGHT,
    DEFAULT_STYLE_WEIGHT,
    DEFAULT_TV_WEIGHT,
    PerceptualLoss,
    build_perceptual_loss,
    loss_config,
)


def trained_loss(card: dict, weights: dict[str, float | None] | None = None) -> dict:
    """The loss ``criterion_for`` runs for ``card``, as ``loss_config``'s arguments: its layers
    and weights (the defaults where the card has none), the style's own style weight (a
    multi-style row's) over the network's, then the non-None ``weights`` over both."""
    trained = dict(card.get("loss", {}))
    if card.get("style_weight") is not None:
        trained["style_weight"] = card["style_weight"]
    trained.update({k: v for k, v in (weights or {}).items() if v is not None})
    return {
        "content_weight": trained.get("content_weight", DEFAULT_CONTENT_WEIGHT),
        "style_weight": trained.get("style_weight", DEFAULT_STYLE_WEIGHT),
        "tv_weight": trained.get("tv_weight", DEFAULT_TV_WEIGHT),
        "content_layers": trained.get("content_layers"),
        "style_layers": trained.get("style_layers"),
    }


def criterion_for(
    card: dict,
    vgg: str | None,
    style_image: str | Path,
    style_size: int,
    device: str = "cpu",
    weights: dict[str, float | None] | None = None,
) -> PerceptualLoss:
    """The loss a style was trained with (``trained_loss``: its card's layers and weights, the
    style's own style weight over the network's; the defaults for an empty card), with
    ``style_image`` at ``style_size`` as its style.

    ``weights`` (``content_weight``, ``style_weight``, ``tv_weight``; None: the card's) pins
    the weights, which change only optimization's result and the total, not the content and
    style losses reported: an optimization reference stays the same whatever recipe the
    networks compared with it were trained with."""
    cfg = loss_config(vgg, **trained_loss(card, weights))
    criterion = build_perceptual_loss(cfg).to(device)
    criterion.set_style(load_image(style_image, style_size).to(device))
    return criterion


def style_image_for(card: dict, styles_dir: str | Path) -> Path:
    """The style image a card names, found in ``styles_dir`` and checked by SHA-256."""

    info = card.get("style_image", {})
    name = info.get("file")
    path = Path(styles_dir) / name if name else None
    if path is None or not path.is_file():
        raise StylenetError(
            f"the style image {name or '(not named in the card)'} is not in {styles_dir}; "
            "pass --style-image /path/to/painting.jpg or --styles-dir"
        )
    if info.get("sha256") and sha256_file(path) != info["sha256"]:
        raise StylenetError(f"{path} is not the image this style was trained on (SHA-256 differs); pass --style-image")
    return path
