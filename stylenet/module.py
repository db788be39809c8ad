"""LightningModule: transformer network + perceptual loss + Adam, with a loss guard.

Optimisation is manual so that a bad step can be skipped cleanly on every rank:
the loss is checked before the backward pass (non-finite, or a spike far above its
running average) and the gradient norm after it (non-finite); a bad step updates
nothing, and too many bad steps in a row stop the run with a message naming the
last good checkpoint. The output is bounded (sigmoid) and gradients are clipped,
which is what keeps long runs from blowing up in the first place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytorch_lightning as pl
import torch

from . import fast
from .imageio import load_image
from .losses import build_perceptual_loss
from .transformer import TransformerNet


class TrainingDiverged(RuntimeError):
    """Too many consecutive bad steps; the message names the last good checkpoint."""


@dataclass
class LossGuard:
    """Decides whether a step's loss is usable: finite and not a spike."""

    spike_factor: float = 10.0  # a loss this many times its running average is a spike
    warmup_steps: int = 100  # no spike test while the loss is still falling fast
    max_consecutive: int = 20  # stop after this many bad steps in a row
    momentum: float = 0.98
    average: float | None = None
    good: int = 0
    consecutive: int = 0
    skipped: int = 0

    def is_bad(self, loss: float) -> bool:
        if not math.isfinite(loss):
            return True
        return self.good >= self.warmup_steps and self.average is not None and loss > self.spike_factor * self.average

    def accept(self, loss: float) -> None:
        self.average = loss if self.average is None else self.momentum * self.average + (1 - self.momentum) * loss
        self.good += 1
        self.consecutive = 0

    def reject(self) -> None:
        self.consecutive += 1
        self.skipped += 1

    def state_dict(self) -> dict:
        return {"average": self.average, "good": self.good, "skipped": self.skipped}

    def load_state_dict(self, state: dict) -> None:
        self.average, self.good, self.skipped = state["average"], state["good"], state["skipped"]


class StyleTransferModule(pl.LightningModule):
    """Trains one ``TransformerNet`` for one style image.

    All constructor arguments are plain dicts (saved as hyperparameters; no modules
    are pickled). The VGG network is rebuilt from its source, never checkpointed.
    """

    def __init__(
        self,
        net: dict,
        loss: dict,
        optim: dict,
        style: dict,
        guard: dict | None = None,
        compile: bool = False,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.strict_loading = False  # checkpoints leave the VGG out; see on_load_checkpoint
        self.net = TransformerNet.from_config(net)
        self.loss = build_perceptual_loss(loss)
        self.guard = LossGuard(**(guard or {}))
        self.last_losses: dict[str, float] = {}

    # -- setup ---------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        if not self.loss.has_style:
            style = self.hparams.style
            self.loss.set_style(load_image(style["image"], style.get("size")).to(self.device))
        self.speed_up(bf16=self._autocast(), compile=self.hparams.compile)

    def speed_up(self, bf16: bool, compile: bool = False) -> None:
        """The fast paths of a training step (see docs/performance.md); the benchmark calls this too.

        The network's layers switch to their fast forms (``stylenet.fast.speed_up``: same
        parameters, same function); the frozen VGG runs channels-last and, under bf16
        autocast, keeps its weights in bf16 (no per-step casts). ``compile`` also runs
        the network and the VGG through torch.compile (about a minute to compile on a
        2-core CPU, then faster steps).
        """
        fast.speed_up(self.net)
        self.loss.vgg.to(memory_format=torch.channels_last)
        if bf16:
            self.loss.vgg.features.to(torch.bfloat16)
        if compile and not getattr(self, "_compiled", False):
            self.net.compile()
            self.loss.vgg.compile()
            self._compiled = True

    def step_losses(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """Forward pass of one training step: stylize the batch and compute its losses."""
        return self.loss(self.net(batch), batch)

    def configure_optimizers(self):
        o = self.hparams.optim
        opt = torch.optim.Adam(self.net.parameters(), lr=o["lr"])
        total = max(1, self.trainer.max_steps if self.trainer and self.trainer.max_steps > 0 else 1)
        warmup = o.get("warmup_steps", 0)
        schedule = o.get("schedule", "constant")
        if schedule not in ("constant", "cosine"):
            raise ValueError(f"unknown optim.schedule {schedule!r}; use constant or cosine")
        floor = o.get("min_lr_ratio", 0.1)

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            if schedule == "constant":
                return 1.0
            t = min(1.0, (step - warmup) / max(1, total - warmup))
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return [opt], [{"scheduler": sched, "interval": "step"}]

    # -- training ------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _bad_everywhere(self, bad: bool) -> bool:
        """Any rank's bad step is every rank's: DDP ranks must skip together."""
        return bool(self.trainer.strategy.reduce_boolean_decision(bad, all=False))

    def _skip(self, opt, why: str) -> None:
        opt.zero_grad(set_to_none=True)
        self.guard.reject()
        self.log("train/skipped_steps", float(self.guard.skipped), on_step=True)
        if self.guard.consecutive >= self.guard.max_consecutive:
            cb = self.trainer.checkpoint_callback
            ckpt = getattr(cb, "best_model_path", "") or getattr(cb, "last_model_path", "") or "none saved yet"
            raise TrainingDiverged(
                f"training diverged: {self.guard.consecutive} bad steps in a row ({why}) at step "
                f"{self.global_step}; last good checkpoint: {ckpt}; lower optim.lr or loss.style_weight and resume"
            )

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        opt = self.optimizers()
        sched = self.lr_schedulers()
        parts = self.step_losses(batch)
        loss = parts["total"]
        value = float(loss.detach())
        if self._bad_everywhere(self.guard.is_bad(value)):
            return self._skip(opt, f"loss {value:.4g}, running average {self.guard.average or float('nan'):.4g}")
        opt.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        clip = self.hparams.optim.get("grad_clip", 0) or float("inf")
        norm = torch.nn.utils.clip_grad_norm_(self.net.parameters(), clip)
        if self._bad_everywhere(not bool(torch.isfinite(norm))):
            return self._skip(opt, "non-finite gradient")
        opt.step()
        sched.step()
        self.guard.accept(value)
        self.last_losses = {k: float(v.detach()) for k, v in parts.items()}
        self.log_dict({f"train/{k}": v for k, v in self.last_losses.items()}, on_step=True)
        self.log("train/grad_norm", float(norm), on_step=True)
        self.log("train/lr", sched.get_last_lr()[0], on_step=True)
        self.log("loss", value, prog_bar=True, logger=False)

    @torch.no_grad()
    def evaluate(self, photos: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Stylize held-out ``photos`` in eval mode; returns outputs and their losses."""
        was_training = self.net.training
        self.net.eval()
        try:
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self._autocast()):
                y = self.net(photos).float()
                parts = self.loss(y, photos)
        finally:
            self.net.train(was_training)
        return y, {k: float(v) for k, v in parts.items()}

    def _autocast(self) -> bool:
        return "bf16" in str(self.trainer.precision) if self._trainer is not None else False

    # -- checkpoints ---------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k.startswith("net.")}
        checkpoint["loss_guard"] = self.guard.state_dict()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        own = {k for k in self.state_dict() if k.startswith("net.")}
        missing = own - set(checkpoint["state_dict"])
        if missing:
            raise ValueError(f"checkpoint does not hold this network: missing {sorted(missing)[:3]}")
        if "loss_guard" in checkpoint:
            self.guard.load_state_dict(checkpoint["loss_guard"])
