"""LightningModule of the style-prediction network (``stylenet.model.predictor``): any painting, one pass.

A batch is (photo, painting) pairs (``adain_data``). One frozen-VGG pass over the paintings
gives both what the predictor reads (channel means and deviations at the style layers) and
each sample's own Gram targets; the photo is stylized with the gamma/beta predicted from its
painting, and the loss is the classic network's perceptual loss (``stylenet.loss.perceptual``: relative
content, Gram style and TV terms, their weights from ``loss.*``), each output against its
own painting. ``predictor["identity_weight"]`` > 0 adds an identity term: the photo rendered with its own
embedding (what ``strength=0`` returns) against the photo, mean absolute difference of the pixels (the pixel
part of SANet's identity loss, Park & Lee 2019, https://arxiv.org/abs/1812.02342). Optimisation, the
loss guard, the schedule, held-out losses and checkpoints are
``AdaINModule``'s (its preview too: the predictor's ``style_stats`` stand in for AdaIN's). What
trains (``train_only``): ``predictor`` (the bottleneck and the gamma/beta map, i.e. the norm
tables) or ``all`` (the transformer's convolutions too); learning rates: ``param_groups``.
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch

from ..loss.perceptual import LossTerms, build_perceptual_loss
from ..model.predictor import EMBEDDING, STYLE_SIZE, StylePredictor, build_predictor
from .adain_module import AdaINModule
from .module import LossGuard, fast_layout, lr_groups, norm_parameters

TRAIN_ONLY = ("predictor", "all")


class PredictorModule(AdaINModule):
    """Trains a ``StylePredictor`` on (photo, painting) batches.

    Arguments are plain dicts (saved as hyperparameters; no modules pickled): ``predictor``
    ``{"net": TransformerNet arguments, "embedding", "style_size"}``; ``loss``: the perceptual
    loss's config node (its VGG is the predictor's too, rebuilt from its source, never checkpointed).
    """

    KEPT = ("net.transformer.", "net.embedding.")  # what checkpoints hold

    def __init__(
        self,
        predictor: dict,
        loss: dict,
        optim: dict,
        guard: dict | None = None,
        train_only: str = "predictor",
    ):
        pl.LightningModule.__init__(self)  # not AdaINModule's: its network is not this one
        hparams = {"predictor": predictor, "loss": loss, "optim": optim, "guard": guard, "train_only": train_only}
        self.save_hyperparameters(hparams)
        if train_only not in TRAIN_ONLY:
            raise ValueError(f"unknown train_only={train_only!r} for a predictor run; use predictor or all")
        self.automatic_optimization = False
        self.strict_loading = False  # checkpoints leave the VGG out
        self.loss = build_perceptual_loss(loss)
        self.net = StylePredictor(
            predictor.get("net"),
            predictor.get("embedding", EMBEDDING),
            list(self.loss.style_layers),
            encoder=self.loss.vgg,
            style_size=predictor.get("style_size", STYLE_SIZE),
        )
        if train_only == "predictor":
            tables = {id(p) for p in norm_parameters(self.net.transformer)}
            for p in self.net.transformer.parameters():
                p.requires_grad_(id(p) in tables)
        self.guard = LossGuard(**(guard or {}))
        self.last_losses: dict[str, float] = {}

    def setup(self, stage: str) -> None:
        fast_layout(self.net.transformer, self.loss.vgg, self._autocast())

    def param_groups(self) -> list[dict]:
        """The bottleneck (and with ``train_only=all`` the convolutions) at ``optim.lr``, the gamma/beta map
        (the norm tables) at ``optim.table_lr``. The bottleneck reads 1,920 numbers: an Adam step of
        ``lr`` on each of its weights can move the embedding by up to 1,920 ``lr``, so it takes the small rate."""
        o = self.hparams.optim
        tables = norm_parameters(self.net.transformer)
        ids = {id(p) for p in tables}
        main = list(self.net.embedding.parameters())
        if self.hparams.train_only == "all":
            main += [p for p in self.net.transformer.parameters() if id(p) not in ids]
        return lr_groups(main, tables, o)

    # -- the loss --------------------------------------------------------------------------
    def losses(self, photos: torch.Tensor, paintings: torch.Tensor) -> tuple[torch.Tensor, LossTerms]:
        """Outputs for a batch of pairs and their weighted loss terms (``content``, ``style``, ``tv``, ``total``),
        each output's style against its own painting's Gram matrices."""
        with torch.no_grad():
            feats = self.loss.vgg(paintings, self.loss.style_layers)
            targets = self.loss.painting_targets(feats)
            stats = self.net.statistics(paintings, feats)
        photos = photos.contiguous(memory_format=torch.channels_last)
        y = self.net.transformer(photos, self.net.mix(self.net.embedding(stats)))
        terms = self.loss(y, photos, targets=targets)
        weight = self.hparams.predictor.get("identity_weight", 0.0)
        if weight:  # strength 0 should give the photo back
            with torch.no_grad():
                own = self.net.own_statistics(photos)
            back = self.net.transformer(photos, self.net.mix(self.net.embedding(own)))
            error = (back.float() - photos.float()).abs().mean()
            terms.add("identity", error, weight * error)
        return y, terms


def predictor_from_checkpoint(ckpt, vgg: str | None = None, state: dict | None = None) -> StylePredictor:
    """The ``StylePredictor`` of a training checkpoint (read without running pickled code), in eval mode;
    ``vgg`` replaces the VGG weights source the run used; ``state``: the checkpoint's contents, if read already."""
    from ..io.weights import WeightsError
    from ..loss.perceptual import parse_layer_weights

    try:
        state = state if state is not None else torch.load(ckpt, map_location="cpu", weights_only=True)
        hp = state["hyper_parameters"]
        loss = hp["loss"]
        encoder = {**loss["vgg"], "weights": vgg or loss["vgg"]["weights"]}
        spec = hp["predictor"]
        layers = list(parse_layer_weights(loss["style_layers"]))
        tensors = {k[len("net.") :]: v for k, v in state["state_dict"].items() if k.startswith(PredictorModule.KEPT)}
        embedding = spec.get("embedding", EMBEDDING)
        pred = build_predictor(spec.get("net"), embedding, layers, encoder, spec["style_size"], tensors)
    except Exception as e:
        raise WeightsError(f"{ckpt}: not a readable style-predictor checkpoint ({e.__class__.__name__}: {e})") from None
    pred.card = {"from_checkpoint": str(ckpt), "steps": state.get("global_step")}
    return pred
