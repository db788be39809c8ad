"""``train(cfg)``: one run from a composed Hydra config to an exported weights file.

``scripts/train.py`` is a thin Hydra wrapper around this function; tests call it
with a config composed in code. Every check of user input happens before any
training starts, and ends in a ``StylenetError`` naming the value and the fix.
"""

from __future__ import annotations

import json
import logging
import platform
import sys
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.utilities.exceptions import SIGTERMException

from .. import precision as policy
from ..errors import StylenetError
from ..io.download import DownloadError, download, sha256_file
from ..io.images import ImageError, open_image
from ..io.weights import load_weights, save_weights
from ..model.transformer import TransformerNet
from .callbacks import CheckpointOnInterrupt, PreviewImages, ReportSkippedImages, StepProgressBar, TimeBudget
from .data import PhotoDataModule
from .module import StyleTransferModule


class ConfigError(StylenetError):
    """A configuration value that cannot work."""


@dataclass
class TrainResult:
    output_dir: Path
    weights: Path | None
    checkpoint: Path | None
    steps: int
    losses: dict[str, float]


def style_name(style: DictConfig) -> str:
    return style.name or Path(style.image).stem


def run_name(cfg: DictConfig) -> str:
    """The run folder's and weights file's name: the multi-style network's, or the style's."""
    return cfg.styles.name or style_name(cfg.style)


def style_entries(cfg: DictConfig) -> list[tuple[str, DictConfig]]:
    """(name, style node) of every style trained: ``styles.members``, else the one ``style``."""
    if cfg.styles.members:
        return [(node.name or key, node) for key, node in cfg.styles.members.items()]
    return [(style_name(cfg.style), cfg.style)]


def lineage_steps(card: dict) -> int | None:
    """The training steps behind an ``init_weights`` file: its card's ``total_steps``, or its ``steps``
    if it started from random weights; None if its card does not say."""
    if card.get("total_steps") is not None:
        return int(card["total_steps"])
    if not card.get("recipe", {}).get("init_weights") and card.get("steps") is not None:
        return int(card["steps"])
    return None


def network_rows(trained: list[str], init: TransformerNet | None) -> list[str]:
    """Style names of the network's table rows (empty: a one-style network, plain norm).

    Several styles make a multi-style network; starting from a multi-style network
    keeps its rows in order and appends the styles it does not have (adding a style).
    """
    if init is not None and init.num_styles:
        return list(init.style_names) + [n for n in trained if n not in init.style_names]
    return list(trained) if len(trained) > 1 else []


def resolve_style_image(style: DictConfig) -> tuple[Path, bool]:
    """The style image, fetched from ``style.url`` if missing; also whether it is the recorded file."""
    path = Path(style.image)
    if not path.is_file():
        if not style.url:
            raise ConfigError(f"style image {path} not found; put it there or set style.image=/path/to/painting.jpg")
        try:
            download(style.url, path, style.sha256)
        except DownloadError as e:
            raise ConfigError(
                f"style image {path} not found and {e}; put the image there, set paths.styles_dir=/folder/of/styles "
                "or style.image=/path/to/painting.jpg"
            ) from None
    try:
        open_image(path)
    except ImageError as e:
        raise ConfigError(f"style image unusable: {e}; set style.image=/path/to/painting.jpg") from None
    return path, bool(style.sha256) and sha256_file(path) == style.sha256


def find_checkpoint(resume: str | None, runs_dir: Path, name: str) -> Path | None:
    """``resume``: None, ``latest`` (the newest last.ckpt of runs named ``name``: single runs
    in ``runs_dir/name/*``, sweep jobs in ``runs_dir/multirun/*/<num>_name``), a run folder or a .ckpt."""
    if not resume:
        return None
    if resume == "latest":
        found = [
            *runs_dir.glob(f"{name}/*/checkpoints/last.ckpt"),
            *runs_dir.glob(f"multirun/*/*_{name}/checkpoints/last.ckpt"),
        ]
        found.sort(key=lambda p: p.stat().st_mtime)
        if not found:
            raise ConfigError(f"resume=latest: no checkpoints/last.ckpt under {runs_dir / name}; start without resume")
        return found[-1]
    path = Path(resume)
    if path.is_dir():
        path = path / "checkpoints" / "last.ckpt"
    if not path.is_file():
        raise ConfigError(f"resume={resume}: no checkpoint at {path}; pass a run folder, a .ckpt file or latest")
    return path


def _command() -> str | None:
    """The command line of a Hydra run (None when train() was called from code)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    return " ".join(["python scripts/train.py", *HydraConfig.get().overrides.task])


def style_block(style: DictConfig, own_image: bool, weight: float) -> dict:
    """A style's part of a model card: its image with credit and licence, and its weight."""
    return {
        "style_image": {
            "file": Path(style.image).name,
            "sha256": sha256_file(style.image),
            "title": style.title if own_image else "user-supplied image",
            "source": style.source if own_image else str(style.image),
            "licence": style.licence if own_image else "unknown: check the image's licence before sharing",
            "size": style.size,
        },
        "style_weight": weight,
    }


def recipe(cfg: DictConfig) -> dict:
    """The recipe fields of every run's card: crops, batch, steps, precision, optimizer, seed."""
    return {
        "image_size": cfg.data.image_size,
        "batch_size": cfg.data.batch_size,
        "max_steps": cfg.trainer.get("max_steps"),
        "precision": str(cfg.trainer.get("precision")),
        "optim": OmegaConf.to_container(cfg.optim),
        "seed": cfg.seed,
    }


def model_card(
    cfg: DictConfig, module: StyleTransferModule, blocks: dict[str, dict], data: PhotoDataModule, init_card: dict
) -> dict:
    """The card: what ran; one style's image block, or a multi-style network's block per style."""
    card = {"command": _command(), "style": run_name(cfg)}
    rows = module.net.style_names
    if rows:
        inherited = init_card.get("styles", {})
        card["styles"] = {n: blocks.get(n) or inherited.get(n, {"from_init_weights": True}) for n in rows}
        card["trained_styles"] = list(blocks)
    else:
        card.update(next(iter(blocks.values())))
    card.update(
        {
            "recipe": {
                **recipe(cfg),
                "init_weights": cfg.init_weights,  # fine-tuned from these weights (None: random init)
                "train_only": cfg.train_only,
            },
            "loss": {
                "content_layers": list(cfg.loss.content_layers),
                "style_layers": list(cfg.loss.style_layers),
                "content_weight": cfg.loss.content_weight,
                "style_weight": cfg.loss.style_weight,
                "tv_weight": cfg.loss.tv_weight,
                "stability": OmegaConf.to_container(cfg.loss.stability),
                "adversarial": OmegaConf.to_container(cfg.loss.adversarial),
                "normalisation": "relative (stylenet.loss.perceptual)",
            },
            "vgg": module.loss.vgg.describe(),
            "training_data": {"root": str(cfg.data.root), "photos": len(data.train_files), "holdout": cfg.data.holdout},
        }
    )
    if data.extra_roots:  # photos of other folders, all trained on (counted in photos)
        card["training_data"]["extra_roots"] = [str(r) for r in data.extra_roots]
        card["training_data"]["extra_photos"] = len(data.extra_files)
    return card


def _hardware(trainer: pl.Trainer) -> str:
    """What the run ran on, for the model card."""
    if trainer.accelerator.__class__.__name__.lower().startswith("cuda"):
        return f"{trainer.num_devices} x {torch.cuda.get_device_name()}"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"CPU: {cpu}, {torch.get_num_threads()} threads"


def record_run(
    card: dict, trainer: pl.Trainer, module, steps: int, losses: dict, seconds: float, ckpt: Path | None, asked: str
) -> None:
    """Add what ran to a card: steps, final losses, skipped steps, time, hardware, resume, precision asked."""
    card["recipe"]["precision_asked"] = asked  # recipe.precision: what ran
    card.update(
        steps=steps,
        final_losses=losses,
        skipped_steps=module.guard.skipped,
        train_seconds=round(seconds, 1),
        hardware=_hardware(trainer),
        resumed_from=str(ckpt) if ckpt else None,
    )


def init_from(module: StyleTransferModule, net: TransformerNet, path: str) -> None:
    """Start from exported weights: a trained network fine-tunes to a new style in a
    fraction of the steps it needs from random weights (same architecture only).

    Convolutions are copied. Norm tables: a row whose style ``net`` has is copied; a
    one-style ``net``'s gamma/beta start every row (the warm start of a multi-style
    network); a new style added to a multi-style network starts at the mean row.
    """
    own = module.net
    if replace(net.config, num_styles=0) != replace(own.config, num_styles=0):
        raise StylenetError(f"init_weights={path!r} is a {net.config} network but model= asks for {own.config}")
    theirs = net.state_dict()
    state = {}
    for key, value in own.state_dict().items():
        src = theirs[key]
        if value.dim() == 2 and src.dim() == 1:  # one-style gamma/beta -> every row
            src = src.expand_as(value)
        elif value.dim() == 2:  # rows by style name
            rows = [net.style_names.index(n) if n in net.style_names else None for n in own.style_names]
            src = torch.stack([src[r] if r is not None else src.mean(0) for r in rows])
        state[key] = src.clone()
    own.load_state_dict(state)
    print(f"initialised from {path} (style {net.card.get('style')!r}, {net.card.get('steps')} steps)")


def resolve_precision(cfg: DictConfig) -> str:
    """Replace ``trainer.precision`` (``auto`` by default) by what this hardware runs best, before
    Lightning sees it (``stylenet.precision``); print it; return what was asked for (for the card)."""
    asked = str(cfg.trainer.get("precision", "auto"))
    try:
        chosen, why = policy.resolve_training(asked, cfg.trainer.get("accelerator"))
    except ValueError as e:
        raise ConfigError(str(e)) from None
    cfg.trainer.precision = chosen
    print(f"precision: {chosen} ({why})")
    return asked


def step_checkpoints(out: Path, every: int) -> ModelCheckpoint:
    """``out/checkpoints/``: ``last.ckpt`` and the three newest ``stepNNNNNNN.ckpt``, every ``every`` steps."""
    return ModelCheckpoint(
        dirpath=out / "checkpoints",
        filename="step{step:07d}",
        auto_insert_metric_name=False,
        every_n_train_steps=every,
        save_top_k=3,
        monitor="step",
        mode="max",
        save_last=True,
    )


def fit_and_validate(
    trainer: pl.Trainer, module: pl.LightningModule, data: pl.LightningDataModule, ckpt: Path | None
) -> tuple[int, dict[str, float]]:
    """Train (from ``ckpt`` when resuming), then measure the held-out losses on every rank; returns
    the steps and the final losses (``train_*`` of the last step, ``holdout_*``). SIGTERM exits 143."""
    if ckpt:
        print(f"resuming from {ckpt}")
    last = _LastValidation()
    trainer.callbacks.append(last)
    try:
        trainer.fit(module, datamodule=data, ckpt_path=str(ckpt) if ckpt else None)
    except SIGTERMException:
        print("stopped by SIGTERM", file=sys.stderr)
        raise SystemExit(143) from None
    saver = trainer.checkpoint_callback
    if isinstance(saver, ModelCheckpoint) and saver.save_last and saver.dirpath and trainer.global_step > 0:
        # its last.ckpt is of the latest multiple of the interval: a run that ends between two (a time budget,
        # max_steps off the interval) would lose the steps since; every rank calls (DDP saves on rank 0)
        trainer.save_checkpoint(str(Path(saver.dirpath) / "last.ckpt"), weights_only=False)  # resumable: optimizer too
    losses = {f"train_{k}": v for k, v in module.last_losses.items()}
    if last.step == trainer.global_step:  # the last step was just validated (max_steps a multiple of the interval)
        held = {k: v for k, v in trainer.callback_metrics.items() if k.startswith("holdout/")}
    else:
        held = (trainer.validate(module, datamodule=data, verbose=False) or [{}])[0]
    losses.update({k.replace("/", "_", 1): float(v) for k, v in held.items()})
    return trainer.global_step, losses


class _LastValidation(pl.Callback):
    """The global step of the latest held-out validation inside ``fit``."""

    step = -1

    def on_validation_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.step = trainer.global_step


def _check_config(cfg: DictConfig) -> None:
    for key in ("image_size", "batch_size"):
        if cfg.data[key] < 1:
            raise ConfigError(f"data.{key}={cfg.data[key]} must be positive")
    if cfg.data.image_size < 32:
        raise ConfigError(f"data.image_size={cfg.data.image_size} is too small; use 32 or more (256 is the recipe)")


def _quiet() -> None:
    """Silence Lightning messages that are expected here and only confuse users."""
    logging.getLogger("pytorch_lightning.utilities.rank_zero").addFilter(
        lambda record: "litlogger" not in record.getMessage()  # an advertisement
    )
    for pattern in (
        r".*module\(s\) in eval mode.*",  # the frozen VGG, on purpose
        r".*manual optimization and every_n_train_steps.*",  # checkpoints are taken between steps
        r".*is not supported by the model summary.*",
        r".*isinstance\(treespec, LeafSpec\).*",
        r".*does not have many workers.*",
        r".*The dirpath has changed from.*",  # a resumed run writes to its own new folder
        r".*your dataloader is not resumable.*",  # a resumed run draws new random crops: harmless here
    ):
        warnings.filterwarnings("ignore", message=pattern)


def train(cfg: DictConfig, extra_callbacks: list[pl.Callback] | None = None) -> TrainResult:
    """Train one style as ``cfg`` says; returns where the weights and checkpoints went."""
    if cfg.arch == "predictor":  # any painting through a style-prediction network (stylenet.model.predictor)
        from .train_predictor import train_predictor

        return train_predictor(cfg, extra_callbacks)
    if cfg.arch != "johnson":  # arch=adain: arbitrary style transfer (stylenet.model.adain), in train_adain
        from .train_adain import train_adain

        return train_adain(cfg, extra_callbacks)
    start = time.time()
    _quiet()
    _check_config(cfg)
    asked_precision = resolve_precision(cfg)
    out = Path(cfg.paths.output_dir)
    name = run_name(cfg)
    entries = style_entries(cfg)
    blocks, styles = {}, []
    for sname, node in entries:
        if cfg.styles.size:
            node.size = cfg.styles.size
        image, own_image = resolve_style_image(node)
        weight = node.weight if node.weight is not None else cfg.loss.style_weight
        blocks[sname] = style_block(node, own_image, weight)
        styles.append({"name": sname, "image": str(image), "size": node.size, "weight": weight})
    data = PhotoDataModule(**cfg.data)
    data.scan()
    ckpt = find_checkpoint(cfg.resume, Path(cfg.paths.runs_dir), name)
    init = None
    if cfg.init_weights:
        init, init_card = load_weights(cfg.init_weights)
        init.card = init_card
    rows = network_rows([s["name"] for s in styles], init)
    for s in styles:
        s["row"] = rows.index(s["name"]) if rows else 0
    if cfg.train_only == "norm" and not (init is not None and rows):
        raise ConfigError(
            "train_only=norm trains only a multi-style network's style tables; "
            "also give init_weights=<multi-style file> (or train the whole network: train_only=all)"
        )

    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    module = StyleTransferModule(
        net={**OmegaConf.to_container(cfg.model), "num_styles": len(rows)},
        loss=OmegaConf.to_container(cfg.loss, resolve=True),
        optim=OmegaConf.to_container(cfg.optim),
        styles=styles,
        guard=OmegaConf.to_container(cfg.guard),
        compile=cfg.compile,
        style_names=rows,
        train_only=cfg.train_only,
        name=run_name(cfg),
    )
    if init is not None and not ckpt:
        init_from(module, init, cfg.init_weights)
    checkpoints = step_checkpoints(out, cfg.checkpoint_every_n_steps)
    preview = PreviewImages(data, cfg.preview_every_n_steps)
    last = out / "checkpoints" / "last.ckpt"  # ModelCheckpoint's save_last file
    interrupt = CheckpointOnInterrupt(str(last))
    callbacks = [checkpoints, preview, ReportSkippedImages(data), interrupt, *(extra_callbacks or [])]
    budget = TimeBudget(cfg.time_budget, start, cfg.time_budget_warmup_steps) if cfg.get("time_budget") else None
    if budget is not None:
        callbacks.append(budget)
    if cfg.trainer.get("enable_progress_bar", True):
        callbacks.append(StepProgressBar())
    logger = instantiate(cfg.logger) if cfg.logger else False
    # held-out losses through Lightning's validation loop, at the preview interval (0: at the end only;
    # an epoch-based run, max_steps=-1: at the end of each epoch)
    max_steps = cfg.trainer.get("max_steps") or -1
    every = cfg.preview_every_n_steps or (max_steps if max_steps > 0 else None)
    strategy = cfg.trainer.get("strategy")
    if cfg.loss.adversarial.weight and strategy == "ddp":  # its step leaves the network's parameters unused
        strategy = "ddp_find_unused_parameters_true"
    trainer: pl.Trainer = instantiate(
        cfg.trainer,
        **({"strategy": strategy} if strategy else {}),
        callbacks=callbacks,
        logger=logger,
        default_root_dir=str(out),
        val_check_interval=every or 1.0,
        check_val_every_n_epoch=None if every else 1,
    )
    steps, losses = fit_and_validate(trainer, module, data, ckpt)
    weights = None
    if trainer.is_global_zero:
        seconds = time.time() - start
        card = model_card(cfg, module, blocks, data, init.card if init is not None else {})
        record_run(card, trainer, module, steps, losses, seconds, ckpt, asked_precision)
        if budget is not None:
            card["time_budget"] = budget.summary()
        before = lineage_steps(init.card) if init is not None else 0
        if before is not None:  # the steps behind the weights, the start's included (unknown: not written)
            card["total_steps"] = before + steps
        weights = save_weights(module.net, out / f"{name}.safetensors", card, half=cfg.export.half)
        (out / "card.json").write_text(json.dumps(card, indent=2))
        print(
            f"\nexported {weights} ({steps} steps, {seconds / 60:.1f} min)\n"
            f"  python:  import stylenet; net = stylenet.load({str(weights)!r})\n"
            f"  shell:   stylenet stylize photo.jpg --style {weights} -o out/\n"
            f"  install: stylenet install {weights}   # then stylenet.load({name!r})"
        )
    return TrainResult(out, weights, last if last.exists() else None, steps, losses)
