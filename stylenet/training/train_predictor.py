"""``train_predictor(cfg)``: a style-prediction run (``arch=predictor``, ``stylenet.model.predictor``) from a
composed Hydra config to an exported predictor file; ``train(cfg)`` hands over to it.

The machinery of an AdaIN run (``train_adain``: the (photo, painting) data with its held-out
paintings, checkpoints every ``checkpoint_every_n_steps``, ``resume=latest`` finding
``runs/<predictor.name>/*``, TensorBoard scalars, held-out losses and a preview grid), with
the classic network's loss and a warm start from ``init_weights`` (default ``classic``, the
shipped ten-style network): its convolutions, and a gamma/beta map that sends its ten
paintings (from ``paths.styles_dir``, at the sizes its card records) toward their own rows (a ridge fit).
At the end: ``<predictor.name>.safetensors`` (``stylenet.model.predictor.load_predictor``) and ``card.json``.
"""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf

from ..errors import StylenetError
from ..infer.arbitrary import is_adain_file
from ..io.images import ImageError, load_image
from ..model.predictor import StylePredictor, file_tensors, same_layout, save_predictor, warm_start
from .predictor_module import TRAIN_ONLY, PredictorModule, predictor_from_checkpoint
from .train import ConfigError, TrainResult, _command, lineage_steps, recipe
from .train_adain import LICENCE, check_pairs, fit_pairs, pairs_card, start_pairs

PAPER = "https://arxiv.org/abs/1705.06830"


def _check_predictor(cfg: DictConfig) -> None:
    p = cfg.predictor
    if cfg.train_only not in TRAIN_ONLY:
        raise ConfigError(
            f"train_only={cfg.train_only} for arch=predictor: use predictor (the embedding and the gamma/beta map) "
            "or all (the transformer's convolutions too)"
        )
    if not cfg.init_weights:
        raise ConfigError("arch=predictor warm-starts from a multi-style network: set init_weights=classic (or a file)")
    if p.embedding < 1 or p.ridge < 0:
        raise ConfigError(f"predictor.embedding={p.embedding} must be positive and predictor.ridge={p.ridge} >= 0")
    if p.identity_weight < 0:
        raise ConfigError(f"predictor.identity_weight={p.identity_weight} must be >= 0 (0: off; e.g. 5)")
    if p.warm_start not in ("lstsq", "mean"):
        raise ConfigError(f"predictor.warm_start={p.warm_start}: use lstsq or mean")
    check_pairs(cfg)


def row_paintings(classic, styles_dir: str | Path, what: str = "the warm start") -> list:
    """A multi-style network's paintings, one per row, from ``styles_dir`` at the sizes its card records."""
    paintings = []
    for name in classic.style_names:
        image = classic.card.get("styles", {}).get(name, {}).get("style_image", {})
        path = Path(styles_dir) / image.get("file", f"{name}.jpg")
        try:
            paintings.append(load_image(path, image.get("size")))
        except ImageError as e:
            raise ConfigError(f"{what} needs the painting of {name!r}: {e}; set paths.styles_dir") from None
    return paintings


def predictor_init(init_weights: str) -> StylePredictor | None:
    """The trained style predictor ``init_weights`` names (a predictor file, a registry name of one, or a
    predictor run's ``.ckpt``), None where it names something else (a multi-style network)."""
    from ..infer.arbitrary import is_predictor, load_decoder
    from ..styles.registry import available_styles

    path = Path(init_weights)
    try:
        if path.suffix == ".ckpt":
            return predictor_from_checkpoint(path, vgg="random")
        if (path.is_file() and is_adain_file(path)) or (not path.suffix and init_weights in available_styles()):
            net = load_decoder(init_weights, vgg="random")
            return net if is_predictor(net) else None
    except StylenetError as e:
        raise ConfigError(f"init_weights={init_weights}: {e}") from None
    return None


def continue_from(module: PredictorModule, pred: StylePredictor, init_weights: str) -> dict:
    """Start ``module``'s predictor from a trained one's weights (a new run: new optimizer, schedule and
    ``train_only``); returns the card's record of it."""
    theirs = file_tensors(pred)
    if not same_layout(theirs, file_tensors(module.net)):
        raise ConfigError(
            f"init_weights={init_weights}: its predictor ({pred.net_config}, embedding "
            f"{pred.embedding.bottleneck.out_features}) does not fit this run's; set model= and predictor.embedding= to its"
        )
    module.net.load_state_dict(theirs, strict=False)
    steps = lineage_steps(pred.card)  # a continued predictor's total_steps, else its steps
    runs = len(pred.card.get("average", {}).get("of", []))  # scripts/ship_predictor.py --average
    note = f", an average of {runs} runs" if runs else ""
    print(f"continuing from the predictor {init_weights} ({steps} steps{note})")
    averaged = {"averaged_runs": runs} if runs else {}
    return {"init_weights": str(init_weights), "init_steps": steps, "mode": "predictor", **averaged}


def warm_start_from(cfg: DictConfig, module: PredictorModule) -> dict:
    """Warm-start ``module``'s predictor from ``init_weights``: a trained predictor's weights, or a
    multi-style network and its paintings (a ridge fit); returns the card's record of it."""
    from ..styles.load import load

    pred = predictor_init(str(cfg.init_weights))
    if pred is not None:
        return continue_from(module, pred, cfg.init_weights)
    try:
        classic = load(cfg.init_weights)
    except StylenetError as e:
        raise ConfigError(f"init_weights={cfg.init_weights}: {e}") from None
    if not classic.num_styles:
        raise ConfigError(f"init_weights={cfg.init_weights} holds one style; warm-start from a multi-style network")
    paintings = row_paintings(classic, cfg.paths.styles_dir, f"init_weights={cfg.init_weights}")
    try:
        report = warm_start(module.net, classic, paintings, cfg.predictor.warm_start, cfg.predictor.ridge, cfg.seed)
    except ValueError as e:
        raise ConfigError(f"init_weights={cfg.init_weights}: {e}; set model= to its architecture") from None
    steps = lineage_steps(classic.card)
    steps = steps if steps is not None else f"{classic.card.get('steps')} in its last run (its card records no total)"
    print(f"warm start from {cfg.init_weights} ({steps} steps): {report}")
    return {"init_weights": str(cfg.init_weights), "init_steps": steps, "mode": cfg.predictor.warm_start, **report}


def predictor_card(cfg: DictConfig, module: PredictorModule, data, warm: dict | None) -> dict:
    """What ran: recipe, loss, encoder, warm start, training data (with the held-out paintings), licence."""
    loss = cfg.loss
    return {
        "command": _command(),
        "model": "predictor",
        "name": cfg.predictor.name,
        "paper": PAPER,
        "encoder": module.net.encoder.describe(),
        "style_size": module.net.style_size,
        "recipe": {
            **recipe(cfg),
            "painting_scale": list(cfg.adain.painting_scale),
            "train_only": cfg.train_only,
            "embedding": cfg.predictor.embedding,
            "warm_start": warm or "resumed: see the first run's card",
        },
        "loss": {
            "content_layers": list(loss.content_layers),
            "style_layers": list(loss.style_layers),
            "content_weight": loss.content_weight,
            "style_weight": loss.style_weight,
            "tv_weight": loss.tv_weight,
            **({"identity_weight": cfg.predictor.identity_weight} if cfg.predictor.identity_weight else {}),
            "normalisation": "relative (stylenet.loss.perceptual); each output against its own painting's Gram matrices",
        },
        "training_data": pairs_card(cfg, data),
        "licence": LICENCE,
    }


def train_predictor(cfg: DictConfig, extra_callbacks: list[pl.Callback] | None = None) -> TrainResult:
    """Train a style predictor as ``cfg`` says; returns where the weights and checkpoints went."""
    p = cfg.predictor
    started = start_pairs(cfg, _check_predictor, p.name)
    style_size = round(cfg.data.image_size * sum(cfg.adain.painting_scale) / 2)  # the paintings' scale in training
    module = PredictorModule(
        predictor={
            "net": OmegaConf.to_container(cfg.model),
            "embedding": p.embedding,
            "style_size": style_size,
            "identity_weight": p.identity_weight,
        },
        loss=OmegaConf.to_container(cfg.loss, resolve=True),
        optim=OmegaConf.to_container(cfg.optim),
        guard=OmegaConf.to_container(cfg.guard),
        train_only=cfg.train_only,
    )
    warm = None if started.checkpoint else warm_start_from(cfg, module)
    usage = (
        "  python:  stylenet.stylize('photo.jpg', style_image='painting.jpg', network={weights!r})\n"
        "  shell:   stylenet stylize photo.jpg --style-image painting.jpg --network {weights}"
    )

    def card() -> dict:
        return predictor_card(cfg, module, started.data, warm)

    def export(path: Path, card: dict) -> Path:
        return save_predictor(module.net, path, card)

    return fit_pairs(cfg, module, started, export, card, usage, extra_callbacks)
