"""Every default that more than one place uses, written once.

The commands, the Python API, the training schema (``stylenet.training.config``, which
Hydra fills the configs from) and the tools read these names. Values that belong to one
function stay beside it; a value a YAML file has to repeat (``configs/model/compact.yaml``)
is checked against this module by the tests. Nothing here imports torch.
"""

from __future__ import annotations

import os

# -- images ----------------------------------------------------------------------------------
MIN_SIDE = 16  # images, frames and AdaIN photos with a shorter side are refused (nothing to stylize)

# -- large images: overlapping tiles that share the whole image's norm statistics ------------
TILE_ABOVE = 1600 * 1600  # images with more pixels are tiled (``stylize(tile=None)``)
TILE = 768  # tile side in pixels
MIN_TILE = 16  # the smallest tile= / --tile accepted
STATS_SIDE = 1024  # longer side of the statistics pass (the image itself when smaller)
ADAIN_TILE_ABOVE = 1024 * 1024  # AdaIN: photos with more pixels are tiled (VGG's full-size layers are large)
ADAIN_TILE = 512

# -- sizes -----------------------------------------------------------------------------------
IMAGE_SIZE = 256  # training crops (data.image_size) and the photos ``evaluate`` measures on
STYLE_SIZE = 384  # a run's style image, longer side (style.size); the recipes (experiment=) use 2 x IMAGE_SIZE
OPTIMIZE_SIZE = (
    256  # ``optimize`` / ``stylenet optimize``: the result's longer side (Gatys et al.'s iterations are slow)
)
PAINTING_SIZE = 512  # ``style_image=`` / ``--style-image``: the painting's shorter side for its statistics


def trained_sizes(card: dict, size: int | None = None, style_size: int | None = None) -> tuple[int, int]:
    """(photo size, style image size) to measure a style at: the given ones, else what its card
    says it was trained at, else ``IMAGE_SIZE`` and twice the photo size (the recipes' ratio)."""
    size = size or card.get("recipe", {}).get("image_size") or IMAGE_SIZE
    return size, style_size or card.get("style_image", {}).get("size") or 2 * size


# -- networks --------------------------------------------------------------------------------
COMPACT = {"width": 16, "blocks": 5, "depthwise": True, "edge_kernel": 5}  # model=compact (configs/model/compact.yaml)

# -- video stability, chosen by measurement on the two real clips (docs/quality.md, "Video") ---
STABILITY = 0.9  # momentum of the norm statistics' moving average across frames
DENOISE = 0.8  # weight of the previous input frame, warped along the optical flow
BLEND = 0.35  # weight of the previous output, warped along the optical flow

# -- training: the loss guard and the optimizer (the guard and optim config nodes) -----------
GUARD = {
    "spike_factor": 10.0,  # a loss this many times its running average is a spike
    "warmup_steps": 100,  # no spike test while the loss is still falling fast
    "max_consecutive": 20,  # stop after this many bad steps in a row
}
OPTIM = {
    "lr": 1e-3,
    "schedule": "constant",  # or cosine
    "warmup_steps": 0,
    "min_lr_ratio": 0.1,  # cosine floor
    "grad_clip": 5.0,  # max gradient norm; 0 disables
    "table_lr": None,  # learning rate of the norm layers' gamma/beta (style tables); None: lr
}

# -- where things are ------------------------------------------------------------------------
DATA_DIR = "data"  # paths.data_dir
STYLES_DIR = f"{DATA_DIR}/styles"  # the paintings (paths.styles_dir, --styles-dir)
VGG_WEIGHTS = "IMAGENET1K_FEATURES"  # torchvision's port of the Caffe VGG16 weights (paths.vgg_weights)
VGG_ENV = "STYLENET_VGG"


def default_vgg() -> str:
    """VGG source for commands: ``$STYLENET_VGG`` (a file, offline) or ``VGG_WEIGHTS`` (a download)."""
    return os.environ.get(VGG_ENV, VGG_WEIGHTS)
