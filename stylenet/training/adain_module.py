"""LightningModule of arbitrary-style training: the AdaIN decoder, its loss, Adam and the loss guard.

Huang & Belongie 2017, https://arxiv.org/abs/1703.06868, section 6. For a photo ``c``
and a painting ``s``, ``t = AdaIN(f(c), f(s))`` and the output is ``g(t)``; the loss is

* **content**: ``||f(g(t)) - t||^2`` at relu4_1, against the AdaIN target rather than
  the photo's features (it converges faster and is what the decoder is asked to invert);
* **style**: ``sum_l ||mu(phi_l(g(t))) - mu(phi_l(s))||^2 + ||sigma(...) - sigma(...)||^2``
  over relu1_1, relu2_1, relu3_1, relu4_1: the channel statistics AdaIN transfers;

both as mean squared errors (the paper's, unnormalised, so that its weights, content 1
and style 10, mean what they meant there: VGG on 0-255 "caffe" input). Only the decoder
trains. Optimisation is manual, as in ``StyleTransferModule``: a step whose loss is
non-finite or spikes (``LossGuard``), or whose gradient is non-finite, updates nothing
on any rank, and too many in a row stop the run naming the last good checkpoint.
Gradient clipping (``optim.grad_clip``) is off in the recipe: these losses start near
1e5 with gradient norms to match and fall by orders of magnitude, so a fixed norm
would bind at every step.
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from ..defaults import OPTIM
from ..loss.perceptual import LossTerms
from ..model.adain import LAYER, AdaINNet, adain, channel_stats
from .module import LossGuard, TrainingDiverged, adam, lr_factor, remember_schedule, schedule_length


class AdaINModule(pl.LightningModule):
    """Trains ``AdaINNet``'s decoder on (photo, painting) batches.

    Arguments are plain dicts (saved as hyperparameters; no modules pickled). ``vgg``:
    ``{"arch", "weights", "input"}`` of the encoder, rebuilt from its source and never
    checkpointed; ``loss``: ``{"content_weight", "style_weight", "style_layers"}`` (their
    defaults: ``stylenet.training.config.AdaINConfig``).
    """

    def __init__(self, vgg: dict, loss: dict, optim: dict, guard: dict | None = None):
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.strict_loading = False  # checkpoints leave the VGG out
        self.net = AdaINNet(vgg.get("arch", "vgg16"), vgg["weights"], vgg.get("input"))
        self.style_layers = list(loss["style_layers"])
        self.content_weight, self.style_weight = float(loss["content_weight"]), float(loss["style_weight"])
        self.guard = LossGuard(**(guard or {}))
        self.last_losses: dict[str, float] = {}

    def setup(self, stage: str) -> None:
        # channels-last convolutions are faster on CPUs (oneDNN) and GPUs alike; same function
        self.net.to(memory_format=torch.channels_last)

    # -- the loss --------------------------------------------------------------------------
    def losses(self, photos: torch.Tensor, paintings: torch.Tensor) -> tuple[torch.Tensor, LossTerms]:
        """Outputs for a batch of pairs and their weighted loss terms ``content``, ``style``, ``total``."""
        layers = set(self.style_layers) | {LAYER}
        with torch.no_grad():
            fc = self.net.encode(photos)
            fs = self.net.encoder(paintings, layers)
            t = adain(fc, *channel_stats(fs[LAYER]))
        y = self.net.decoder(t.to(fc.dtype))
        fy = self.net.encoder(y, layers)
        content = F.mse_loss(fy[LAYER].float(), t)
        style = sum(
            F.mse_loss(a, b)
            for layer in self.style_layers
            for a, b in zip(channel_stats(fy[layer]), channel_stats(fs[layer]))
        )
        terms = LossTerms()
        terms.add("content", content, self.content_weight * content)
        return y, terms.add("style", style, self.style_weight * style)

    # -- training --------------------------------------------------------------------------
    KEPT = ("net.decoder.",)  # what checkpoints hold: the decoder (the VGG encoder is rebuilt from its source)

    def param_groups(self) -> list[dict]:
        """What trains, as the optimizer's parameter groups (a group may set its own ``lr``): the decoder."""
        return [{"params": list(self.net.decoder.parameters())}]

    def configure_optimizers(self):
        o = {**OPTIM, **self.hparams.optim}  # a module built in code may leave settings out
        opt = adam(self.param_groups(), o["lr"])
        schedule = o["schedule"]
        if schedule not in ("constant", "cosine"):
            raise ValueError(f"unknown optim.schedule {schedule!r}; use constant or cosine")
        # the schedule's length: max_steps; a time budget (callbacks.TimeBudget) sets it to the steps that fit
        self.planned_steps = self.trainer.max_steps if self.trainer and self.trainer.max_steps > 0 else 1
        self.schedule_steps = schedule_length(self, self.planned_steps)
        warmup, floor = o["warmup_steps"], o["min_lr_ratio"]
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: lr_factor(step, schedule, warmup, self.schedule_steps, floor)
        )
        return [opt], [{"scheduler": sched, "interval": "step"}]

    def _bad_everywhere(self, bad: bool) -> bool:
        """Any rank's bad step is every rank's: DDP ranks must skip together."""
        return bool(self.trainer.strategy.reduce_boolean_decision(bad, all=False))

    def _skip(self, opt, why: str) -> None:
        opt.zero_grad(set_to_none=True)
        self.guard.reject()
        self.log("train/skipped_steps", float(self.guard.skipped), on_step=True)
        if self.guard.consecutive >= self.guard.max_consecutive:
            cb = self.trainer.checkpoint_callback
            ckpt = getattr(cb, "last_model_path", "") or "none saved yet"
            raise TrainingDiverged(
                f"training diverged: {self.guard.consecutive} bad steps in a row ({why}) at step "
                f"{self.global_step}; last good checkpoint: {ckpt}; lower optim.lr and resume"
            )

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        opt, sched = self.optimizers(), self.lr_schedulers()
        _, terms = self.losses(*batch)
        loss = terms["total"]
        value = float(loss.detach())
        if self._bad_everywhere(self.guard.is_bad(value)):
            return self._skip(opt, f"loss {value:.4g}, running average {self.guard.average or float('nan'):.4g}")
        opt.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        clip = {**OPTIM, **self.hparams.optim}["grad_clip"] or float("inf")
        groups = getattr(opt, "optimizer", opt).param_groups  # what trains, as the optimizer holds it
        norm = torch.nn.utils.clip_grad_norm_([p for g in groups for p in g["params"]], clip)
        if self._bad_everywhere(not bool(torch.isfinite(norm))):
            return self._skip(opt, "non-finite gradient")
        opt.step()
        sched.step()
        self.guard.accept(value)
        self.last_losses = {k: float(v.detach()) for k, v in terms.items()}
        self.log_dict({f"train/{k}": v for k, v in self.last_losses.items()}, on_step=True)
        self.log("train/grad_norm", float(norm), on_step=True)
        self.log("train/lr", sched.get_last_lr()[0], on_step=True)
        self.log("loss", value, prog_bar=True, logger=False)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        """Held-out losses (``holdout/*``) over every held-out (photo, painting) pair."""
        _, terms = self.losses(*batch)
        self.log_dict({f"holdout/{k}": float(v) for k, v in terms.items()}, batch_size=len(batch[0]), sync_dist=True)

    @torch.no_grad()
    def preview(self, photos: torch.Tensor, paintings: torch.Tensor) -> torch.Tensor:
        """Every photo in every painting's style, ``(P, N, 3, H, W)``, in eval mode."""
        was_training = self.net.training
        self.net.eval()
        try:
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self._autocast()):
                stats = self.net.style_stats(paintings)
                rows = [self.net(photos, tuple(t[None] for t in row)).float() for row in zip(*stats)]
        finally:
            self.net.train(was_training)
        return torch.stack(rows)

    def _autocast(self) -> bool:
        return "bf16" in str(self.trainer.precision) if self._trainer is not None else False

    # -- checkpoints -----------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k.startswith(self.KEPT)}
        checkpoint["loss_guard"] = self.guard.state_dict()
        remember_schedule(self, checkpoint)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        remember_schedule(self, checkpoint, loading=True)
        own = {k for k in self.state_dict() if k.startswith(self.KEPT)}
        missing = own - set(checkpoint["state_dict"])
        if missing:
            raise ValueError(f"checkpoint does not hold this {type(self.net).__name__}: missing {sorted(missing)[:3]}")
        if "loss_guard" in checkpoint:
            self.guard.load_state_dict(checkpoint["loss_guard"])
