"""Typed schemas of the Hydra training configuration (``configs/train.yaml``).

Hydra checks every override against these: an unknown key or a value of the
wrong type is an error before anything runs. Group files in ``configs/`` fill
the nodes (``style/``, ``data/``, ``model/``, ``loss/``, ``trainer/``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, make_dataclass
from pathlib import Path
from typing import Any, get_type_hints

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from ..defaults import DATA_DIR, GUARD, IMAGE_SIZE, OPTIM, STYLE_SIZE, VGG_WEIGHTS
from ..loss.perceptual import (
    DEFAULT_CONTENT_LAYERS,
    DEFAULT_CONTENT_WEIGHT,
    DEFAULT_STYLE_LAYERS,
    DEFAULT_STYLE_WEIGHT,
    DEFAULT_TV_WEIGHT,
)
from ..model.transformer import NetConfig
from .adversarial import DEFAULTS as ADVERSARIAL
from .stability import DEFAULTS as STABILITY


@dataclass
class PathsConfig:
    data_dir: str = DATA_DIR
    photos: str = "${paths.data_dir}/coco/train2014"  # COCO as data/README.md downloads it
    styles_dir: str = "${paths.data_dir}/styles"
    paintings: str = "${paths.data_dir}/paintings"  # many paintings, for arbitrary-style training (adain)
    photos_more: str = "${paths.data_dir}/photos_more"  # more content photos, for arbitrary-style training
    vgg_weights: str = VGG_WEIGHTS  # torchvision download, or a local file
    runs_dir: str = "runs"
    output_dir: str = "${hydra:runtime.output_dir}"


@dataclass
class StyleConfig:
    image: str = MISSING  # path of the style image
    name: str | None = None  # defaults to the image's file name without extension
    size: int = STYLE_SIZE  # longer side of the style image in pixels; strokes scale with it
    url: str | None = None  # where to fetch the image when it is missing
    sha256: str | None = None  # of the image file; credit/licence apply only to that file
    title: str = ""  # artwork and artist
    source: str = ""  # where the image file comes from
    licence: str = ""
    weight: float | None = None  # this style's style weight (default: loss.style_weight)


@dataclass
class StylesConfig:
    """Several styles for one multi-style network (``styles=classic``); empty: train ``style``."""

    name: str | None = None  # the network's name: runs/<name>/..., <name>.safetensors
    members: dict[str, StyleConfig] = field(default_factory=dict)  # style name -> its style node
    size: int | None = None  # every member's style image size (default: each member's own size)


@dataclass
class DataConfig:
    root: str = "${paths.photos}"
    image_size: int = IMAGE_SIZE  # training crops are image_size x image_size
    batch_size: int = 4
    num_workers: int = 2
    holdout: int = 16  # photos kept out of training (previews, held-out losses)
    preview: int = 4  # of which this many are shown in TensorBoard
    extra_roots: list[str] = field(default_factory=list)  # more photo folders, all trained on (root's split stays)


# The network's arguments, with NetConfig's defaults (their one source); num_styles is not a
# setting: train() derives it from the styles trained (and init_weights).
ModelConfig = make_dataclass(
    "ModelConfig",
    [
        (f.name, get_type_hints(NetConfig)[f.name], field(default=f.default))
        for f in fields(NetConfig)
        if f.name != "num_styles"
    ],
)


@dataclass
class VGGConfig:
    arch: str = "vgg16"
    weights: str = "${paths.vgg_weights}"
    input: str | None = None  # input convention of a weights file: caffe (default) or torch


@dataclass
class StabilityConfig:
    """The stability term (``stylenet.training.stability``): output of a warped, noisy photo ~ warped output."""

    weight: float = 0.0  # 0: off
    noise: float = STABILITY["noise"]  # std of the pixel noise ([0, 1] pixels)
    shift: float = STABILITY["shift"]  # largest shift, in pixels
    rotate: float = STABILITY["rotate"]  # largest rotation, in degrees
    zoom: float = STABILITY["zoom"]  # largest relative zoom


@dataclass
class AdversarialConfig:
    """The adversarial term (``stylenet.training.adversarial``): a patch discriminator against the style image."""

    weight: float = 0.0  # 0: off
    lr: float = ADVERSARIAL["lr"]  # the discriminator's Adam learning rate
    crop: int = ADVERSARIAL["crop"]  # side of the patches it compares, in pixels
    channels: int = ADVERSARIAL["channels"]  # width of its first layer
    layers: int = ADVERSARIAL["layers"]  # stride-2 layers (its patch size grows with them)


@dataclass
class LossConfig:
    vgg: VGGConfig = field(default_factory=VGGConfig)
    content_layers: list[str] = field(default_factory=lambda: list(DEFAULT_CONTENT_LAYERS))
    style_layers: list[str] = field(default_factory=lambda: list(DEFAULT_STYLE_LAYERS))  # "relu3_3:0.5" weights one
    content_weight: float = DEFAULT_CONTENT_WEIGHT
    style_weight: float = DEFAULT_STYLE_WEIGHT
    tv_weight: float = DEFAULT_TV_WEIGHT
    stability: StabilityConfig = field(default_factory=StabilityConfig)
    adversarial: AdversarialConfig = field(default_factory=AdversarialConfig)


@dataclass
class OptimConfig:  # the meaning of each: stylenet.defaults.OPTIM
    lr: float = OPTIM["lr"]
    schedule: str = OPTIM["schedule"]
    warmup_steps: int = OPTIM["warmup_steps"]
    min_lr_ratio: float = OPTIM["min_lr_ratio"]
    grad_clip: float = OPTIM["grad_clip"]
    table_lr: float | None = OPTIM["table_lr"]


@dataclass
class GuardConfig:  # the meaning of each: stylenet.defaults.GUARD
    spike_factor: float = GUARD["spike_factor"]
    warmup_steps: int = GUARD["warmup_steps"]
    max_consecutive: int = GUARD["max_consecutive"]


@dataclass
class ExportConfig:
    half: bool = False  # float16 tensors (half the size, same outputs to ~1e-3)


@dataclass
class AdaINConfig:
    """Arbitrary-style training (``arch=adain``; ``experiment=adain`` is the recipe; ``stylenet.model.adain``).

    Also used: ``data.image_size``, ``batch_size``, ``num_workers``, ``holdout`` (per photo
    folder), ``preview``; ``loss.vgg`` (the encoder); ``optim``, ``guard``, ``trainer``.
    """

    name: str = "adain"  # run folder (runs/<name>/...) and weights file (<name>.safetensors)
    photos: list[str] = field(default_factory=lambda: ["${data.root}"])  # photo folders
    paintings: list[str] = field(default_factory=lambda: ["${paths.paintings}"])  # painting folders
    holdout_paintings: list[str] = field(default_factory=list)  # file names never trained on
    painting_scale: list[float] = field(default_factory=lambda: [1.0, 1.5])  # shorter side / crop, random in range
    identity_pairs: float = 0.0  # share of training pairs whose painting is the photo itself (its own style back)
    holdout_pairs: int = 64  # held-out (photo, painting) pairs behind holdout/*
    preview_paintings: int = 6  # held-out paintings (columns) of the preview grid
    # the paper's loss: mean/std matching at these layers, content at the AdaIN target (relu4_1)
    style_layers: list[str] = field(default_factory=lambda: ["relu1_1", "relu2_1", "relu3_1", "relu4_1"])
    content_weight: float = 1.0
    style_weight: float = 10.0


@dataclass
class PredictorConfig:
    """Any painting through a style-prediction network (``arch=predictor``; ``experiment=predictor``;
    ``stylenet.model.predictor``). Data as an AdaIN run's (``adain.photos``, ``paintings``, ``holdout_paintings``,
    ``painting_scale``, ...); loss as the classic network's (``loss.*``, each sample against its own
    painting); ``init_weights``: the multi-style network to warm-start from; ``train_only``:
    ``predictor`` (the embedding and the gamma/beta map) or ``all`` (the convolutions too)."""

    name: str = "predictor"  # run folder (runs/<name>/...) and weights file (<name>.safetensors)
    embedding: int = 100  # Ghiasi et al.'s bottleneck
    warm_start: str = "lstsq"  # lstsq: the warm start's paintings map to their own rows; mean: the mean row
    ridge: float = 1.0  # of the lstsq fit, relative to the mean eigenvalue (1e-3: the ten rows reproduced)
    # weight of an identity term: mean |photo rendered with its own embedding - photo| (what strength=0 returns;
    # the pixel part of SANet's identity loss, https://arxiv.org/abs/1812.02342); 0: off
    identity_weight: float = 0.0


@dataclass
class TrainConfig:
    paths: PathsConfig = field(default_factory=PathsConfig)
    style: StyleConfig = field(default_factory=StyleConfig)
    styles: StylesConfig = field(default_factory=StylesConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    guard: GuardConfig = field(default_factory=GuardConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    arch: str = "johnson"  # johnson: a network per style (or a multi-style table); adain, predictor: any painting
    adain: AdaINConfig = field(default_factory=AdaINConfig)
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    trainer: dict[str, Any] = field(default_factory=dict)  # pytorch_lightning.Trainer arguments
    logger: dict[str, Any] | None = None
    seed: int = 0
    resume: str | None = None  # "latest", a run folder or a .ckpt file
    init_weights: str | None = None  # exported weights to start from (fine-tune) instead of random
    train_only: str = (
        "all"  # or "norm": only gamma/beta (add a style to a multi-style network); predictor runs: "predictor"
    )
    preview_every_n_steps: int = 200
    checkpoint_every_n_steps: int = 250
    compile: bool = False  # torch.compile the network and VGG: slower start, faster steps
    # seconds from the start of the run until training stops (then the final validation and export):
    # the steps that fit are measured after warm-up and become max_steps and the schedule's length
    time_budget: float | None = None
    time_budget_warmup_steps: int = 50  # steps before the speed is measured, and between estimates


CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"  # inside the package (configs/ links here)


def register() -> None:
    ConfigStore.instance().store(name="train_schema", node=TrainConfig)
    # ${run_name:${styles.name},${style.name},${style.image}}: the run folder's name
    OmegaConf.register_new_resolver(
        "run_name", lambda multi, name, image: multi or name or Path(image).stem, replace=True
    )


register()
