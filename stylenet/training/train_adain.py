"""``train_adain(cfg)``: an arbitrary-style (AdaIN) run from a composed Hydra config to an
exported decoder file; ``train(cfg)`` hands over to it when ``arch=adain``.

Same machinery as one-style training: checks before anything runs (one-line
``StylenetError``), Lightning checkpoints and resume (``resume=latest`` finds
``runs/<adain.name>/*``), TensorBoard scalars and a preview grid, and at the end
``<adain.name>.safetensors`` (the decoder; ``stylenet.model.adain.load_adain``) and
``card.json`` in the run folder.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from ..model.adain import save_adain
from .adain_data import AdaINDataModule
from .adain_module import AdaINModule
from .callbacks import AdaINPreview, CheckpointOnInterrupt, ReportSkippedImages, StepProgressBar, TimeBudget
from .train import (
    ConfigError,
    TrainResult,
    _check_config,
    _command,
    _quiet,
    find_checkpoint,
    fit_and_validate,
    recipe,
    record_run,
    resolve_precision,
    step_checkpoints,
)

PAPER = "https://arxiv.org/abs/1703.06868"
LICENCE = (
    "research use only: trained on paintings of mixed and often unknown copyright status "
    "(see ../shared/data/paintings/README.md); never redistribute the paintings"
)


def _check_adain(cfg: DictConfig) -> None:
    if cfg.arch != "adain":
        raise ConfigError(
            f"unknown arch={cfg.arch}; use johnson (a network per style), adain or predictor (any painting)"
        )
    if cfg.init_weights:
        raise ConfigError("init_weights is for arch=johnson networks; continue an AdaIN run with resume=<run folder>")
    check_pairs(cfg)


def check_pairs(cfg: DictConfig) -> None:
    """The (photo, painting) data settings of every arbitrary-style run (``adain.*``)."""
    a = cfg.adain
    low, high = (list(a.painting_scale) + [0, 0])[:2]
    if len(a.painting_scale) != 2 or not 0 < low <= high:
        raise ConfigError(f"adain.painting_scale={list(a.painting_scale)} must be [low, high] with 0 < low <= high")
    if a.holdout_pairs < 1 or a.preview_paintings < 1:
        raise ConfigError("adain.holdout_pairs and adain.preview_paintings must be positive")
    if not 0 <= a.identity_pairs < 1:
        raise ConfigError(f"adain.identity_pairs={a.identity_pairs} must be a share in [0, 1), e.g. 0.1")


def adain_card(cfg: DictConfig, module: AdaINModule, data: AdaINDataModule) -> dict:
    """What ran: recipe, loss, encoder, training data (with the held-out paintings), licence."""
    a = cfg.adain
    return {
        "command": _command(),
        "model": "adain",
        "name": a.name,
        "paper": PAPER,
        "encoder": module.net.encoder.describe(),
        "recipe": {**recipe(cfg), "painting_scale": list(a.painting_scale)},
        "loss": {
            "content": "mean squared error of relu4_1 features against the AdaIN target",
            "style": "mean squared error of channel means and stds, summed over the style layers",
            "style_layers": list(a.style_layers),
            "content_weight": a.content_weight,
            "style_weight": a.style_weight,
        },
        "training_data": pairs_card(cfg, data),
        "licence": LICENCE,
    }


def pairs_card(cfg: DictConfig, data: AdaINDataModule) -> dict:
    """The training data of an arbitrary-style run, for its card (with the held-out paintings)."""
    photos = {str(root): sum(f.is_relative_to(root) for f in data.train_files) for root in data.photo_roots}
    return {
        "photos": photos,  # folder: photos trained on
        "photo_holdout_per_folder": cfg.data.holdout,
        "paintings": [str(p) for p in data.painting_roots],
        "train_paintings": len(data.train_paintings),
        "holdout_paintings": list(data.holdout_names),
        "identity_pairs": cfg.adain.identity_pairs,
    }


def pair_data(cfg: DictConfig) -> AdaINDataModule:
    """The (photo, painting) data of an arbitrary-style run, scanned (``adain.*`` and ``data.*``)."""
    a = cfg.adain
    data = AdaINDataModule(
        photos=list(a.photos),
        paintings=list(a.paintings),
        holdout_paintings=list(a.holdout_paintings),
        painting_scale=tuple(a.painting_scale),
        holdout_pairs=a.holdout_pairs,
        preview_paintings=a.preview_paintings,
        identity_pairs=a.identity_pairs,
        image_size=cfg.data.image_size,
        batch_size=cfg.data.batch_size,
        num_workers=cfg.data.num_workers,
        holdout=cfg.data.holdout,
        preview=cfg.data.preview,
    )
    data.scan()
    return data


class Started(NamedTuple):
    """What ``start_pairs`` found before training: when, the precision asked for, the data, the checkpoint."""

    time: float
    asked_precision: str
    data: pl.LightningDataModule
    checkpoint: Path | None


def start_pairs(cfg: DictConfig, check: Callable[[DictConfig], None], name: str) -> Started:
    """The start of an arbitrary-style run: every check (``check``: the kind's own) before anything runs,
    the precision, the scanned data, the checkpoint to resume (``runs/<name>/*`` for ``latest``), the seed."""
    start = time.time()
    _quiet()
    _check_config(cfg)
    asked_precision = resolve_precision(cfg)
    check(cfg)
    data = pair_data(cfg)
    ckpt = find_checkpoint(cfg.resume, Path(cfg.paths.runs_dir), name)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    return Started(start, asked_precision, data, ckpt)


def fit_pairs(
    cfg: DictConfig,
    module: pl.LightningModule,
    started: Started,
    export: Callable[[Path, dict], Path],
    card: Callable[[], dict],
    usage: str,
    extra_callbacks: list[pl.Callback] | None = None,
) -> TrainResult:
    """Train an arbitrary-style ``module`` (``started``: what ``start_pairs`` returned; checkpoints, previews
    of held-out pairs, resume), then on rank 0 write ``export(path, card)`` to ``<output_dir>/<name>.safetensors``
    with ``card()`` and the run recorded in it, ``card.json`` beside it, and print ``usage`` (``{weights}``)."""
    start, asked_precision, data, ckpt = started
    out = Path(cfg.paths.output_dir)
    checkpoints = step_checkpoints(out, cfg.checkpoint_every_n_steps)
    last = out / "checkpoints" / "last.ckpt"
    callbacks = [
        checkpoints,
        AdaINPreview(data, cfg.preview_every_n_steps),
        ReportSkippedImages(data),
        CheckpointOnInterrupt(str(last)),
        *(extra_callbacks or []),
    ]
    budget = TimeBudget(cfg.time_budget, start, cfg.time_budget_warmup_steps) if cfg.get("time_budget") else None
    if budget is not None:  # stop at the deadline, the cosine schedule fitted to the steps that fit
        callbacks.append(budget)
    if cfg.trainer.get("enable_progress_bar", True):
        callbacks.append(StepProgressBar())
    logger = instantiate(cfg.logger) if cfg.logger else False
    every = cfg.preview_every_n_steps or max(1, cfg.trainer.get("max_steps") or 1)
    trainer: pl.Trainer = instantiate(
        cfg.trainer,
        callbacks=callbacks,
        logger=logger,
        default_root_dir=str(out),
        val_check_interval=every,
        check_val_every_n_epoch=None,
    )
    steps, losses = fit_and_validate(trainer, module, data, ckpt)
    weights = None
    if trainer.is_global_zero:
        seconds = time.time() - start
        written = card()
        record_run(written, trainer, module, steps, losses, seconds, ckpt, asked_precision)
        if budget is not None:
            written["time_budget"] = budget.summary()
        weights = export(out / f"{written['name']}.safetensors", written)
        (out / "card.json").write_text(json.dumps(written, indent=2))
        print(f"\nexported {weights} ({steps} steps, {seconds / 60:.1f} min)\n" + usage.format(weights=str(weights)))
    return TrainResult(out, weights, last if last.exists() else None, steps, losses)


def train_adain(cfg: DictConfig, extra_callbacks: list[pl.Callback] | None = None) -> TrainResult:
    """Train the AdaIN decoder as ``cfg`` says; returns where the weights and checkpoints went."""
    a = cfg.adain
    started = start_pairs(cfg, _check_adain, a.name)
    module = AdaINModule(
        vgg=OmegaConf.to_container(cfg.loss.vgg, resolve=True),
        loss={"style_layers": list(a.style_layers), "content_weight": a.content_weight, "style_weight": a.style_weight},
        optim=OmegaConf.to_container(cfg.optim),
        guard=OmegaConf.to_container(cfg.guard),
    )
    usage = (
        "  python:  from stylenet.model.adain import load_adain; net = load_adain({weights!r})\n"
        "           out = net(photo, painting)   # (B, 3, H, W) tensors in [0, 1]"
    )

    def export(path: Path, card: dict) -> Path:
        return save_adain(module.net, path, card)

    return fit_pairs(
        cfg, module, started, export, lambda: adain_card(cfg, module, started.data), usage, extra_callbacks
    )
