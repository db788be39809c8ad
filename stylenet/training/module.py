"""LightningModule: transformer network + perceptual loss + Adam, with a loss guard.

Optimisation is manual so that a bad step can be skipped cleanly on every rank:
the loss is checked before the backward pass (non-finite, or a spike far above its
running average) and the gradient norm after it (non-finite); a bad step updates
nothing, and too many bad steps in a row stop the run with a message naming the
last good checkpoint. The output is bounded (sigmoid) and gradients are clipped,
which is what keeps long runs from blowing up in the first place.

Several styles train one multi-style network (conditional instance norm): every
batch mixes them (sample i of step t gets style ``(t * B + i) mod S``, so each
style is seen equally often), each output is compared with its own style's Gram
targets, and the norm tables get their own learning rate (``optim.table_lr``).

The loss is a set of named, weighted terms (``stylenet.loss.perceptual.LossTerms``): the
perceptual ``content``, ``style`` and ``tv``, and, when their weights are not 0,
``stability`` (``stylenet.training.stability``) and ``adversarial``
(``stylenet.training.adversarial``: a patch discriminator with its own optimizer,
stepped after the network on the same batch, kept in checkpoints, never exported).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytorch_lightning as pl
import torch

from ..defaults import GUARD, OPTIM
from ..io.images import load_image
from ..loss.perceptual import LossTerms, build_perceptual_loss
from ..model import fast
from ..model.transformer import ConditionalInstanceNorm2d, TransformerNet
from . import adversarial as adv
from .stability import stability_loss


class TrainingDiverged(RuntimeError):
    """Too many consecutive bad steps; the message names the last good checkpoint."""


@dataclass
class LossGuard:
    """Decides whether a step's loss is usable: finite and not a spike."""

    spike_factor: float = GUARD["spike_factor"]  # a loss this many times its running average is a spike
    warmup_steps: int = GUARD["warmup_steps"]  # no spike test while the loss is still falling fast
    max_consecutive: int = GUARD["max_consecutive"]  # stop after this many bad steps in a row
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


def adam(params, lr: float, **kwargs) -> torch.optim.Adam:
    """Adam in one fused kernel where this torch has it for these parameters (CPU since torch 2.4):
    the same update as the per-tensor loop, in about a third of its time for this network."""
    try:
        return torch.optim.Adam(params, lr=lr, fused=True, **kwargs)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=lr, **kwargs)


def lr_factor(step: int, schedule: str, warmup: int, total: int, floor: float) -> float:
    """Learning-rate multiplier: linear warmup, then constant or cosine down to ``floor`` at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))


def schedule_length(module: pl.LightningModule, planned: int) -> int:
    """The learning-rate schedule's length: ``planned`` (the run's steps), except on resume of a run
    whose time budget (``callbacks.TimeBudget``) fit its schedule to fewer steps than that same plan:
    then that run's length, and without a new time budget the resumed run ends there too, as the
    run it continues would have (``remember_schedule`` puts both lengths in each checkpoint)."""
    from .callbacks import TimeBudget  # callbacks imports this module

    saved = getattr(module, "saved_schedule", None)  # {"steps", "planned"} from the checkpoint
    if not saved or saved["planned"] != planned or not 0 < saved["steps"] < planned:
        return planned
    trainer = module.trainer
    if not any(isinstance(c, TimeBudget) for c in trainer.callbacks):
        trainer.fit_loop.epoch_loop.max_steps = saved["steps"]
        if trainer.is_global_zero:
            print(
                f"resuming a run whose time budget fit it to {saved['steps']} of {planned} steps: it ends at step "
                f"{saved['steps']}; pass time_budget=SECONDS to fit a new length, or trainer.max_steps to set one"
            )
    return saved["steps"]


def remember_schedule(module: pl.LightningModule, checkpoint: dict, loading: bool = False) -> None:
    """Save the schedule's length and the run's planned steps in a checkpoint, or (``loading``) read them back."""
    if loading:
        module.saved_schedule = checkpoint.get("schedule")
    elif getattr(module, "planned_steps", None):
        checkpoint["schedule"] = {"steps": int(module.schedule_steps), "planned": int(module.planned_steps)}


def fast_layout(net: torch.nn.Module, vgg: torch.nn.Module, bf16: bool) -> None:
    """A training step's fast paths: the network's fast layer forms (``stylenet.model.fast``: same
    parameters, same function), it and the frozen VGG channels-last (oneDNN's convolutions, forward
    and backward), and under bf16 autocast the VGG's weights in bf16 (no per-step casts)."""
    fast.speed_up(net)
    net.to(memory_format=torch.channels_last)
    vgg.to(memory_format=torch.channels_last)
    if bf16:
        vgg.features.to(torch.bfloat16)


def lr_groups(rest: list, tables: list, optim: dict) -> list[dict]:
    """Adam's parameter groups: ``rest`` at ``optim["lr"]``, the norm tables at ``optim["table_lr"]`` (or lr)."""
    groups = [{"params": rest, "lr": optim["lr"]}] if rest else []
    return groups + [{"params": tables, "lr": optim.get("table_lr") or optim["lr"]}]


def norm_parameters(net: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The norm layers' gamma/beta (the style tables of a multi-style network)."""
    norms = [m for m in net.modules() if isinstance(m, (torch.nn.InstanceNorm2d, ConditionalInstanceNorm2d))]
    return [p for m in norms for p in m.parameters(recurse=False)]


class StyleTransferModule(pl.LightningModule):
    """Trains one ``TransformerNet`` for one style image, or a multi-style network for several.

    All constructor arguments are plain dicts and lists (saved as hyperparameters; no
    modules are pickled). The VGG network is rebuilt from its source, never checkpointed.

    Args:
        styles: the styles trained, each ``{"name", "image", "size", "weight", "row"}``
            (``weight``: its style weight, default ``loss.style_weight``; ``row``: its row in
            a multi-style network's tables).
        style_names: a multi-style network's names of all its rows, in order.
        train_only: ``"all"`` parameters, or ``"norm"``: only the norm layers' gamma/beta
            (adding a style to a multi-style network trains just its row).
    """

    def __init__(
        self,
        net: dict,
        loss: dict,
        optim: dict,
        styles: list[dict],
        guard: dict | None = None,
        compile: bool = False,
        style_names: list[str] | None = None,
        train_only: str = "all",
        name: str | None = None,  # the run's (network's) name; its exported checkpoint's card names it
    ):
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.strict_loading = False  # checkpoints leave the VGG out; see on_load_checkpoint
        self.net = TransformerNet.from_config(net)
        self.net.style_names = list(style_names or [])
        self.loss = build_perceptual_loss(loss)
        self.guard = LossGuard(**(guard or {}))
        self.last_losses: dict[str, float] = {}
        if train_only not in ("all", "norm"):
            raise ValueError(f"unknown train_only={train_only!r}; use all or norm")
        if train_only == "norm":
            tables = {id(p) for p in norm_parameters(self.net)}
            for p in self.net.parameters():
                p.requires_grad_(id(p) in tables)
        self.register_buffer("rows", torch.tensor([s.get("row", 0) for s in styles]), persistent=False)
        self.stability = dict(loss.get("stability") or {})
        self.adversarial = dict(loss.get("adversarial") or {})
        self.disc: adv.PatchDiscriminator | None = None
        if self.adversarial.get("weight"):
            if len(styles) > 1:
                raise ValueError("loss.adversarial needs a one-style run; set loss.adversarial.weight=0 for styles=")
            a = {**adv.DEFAULTS, **self.adversarial}
            self.disc = adv.PatchDiscriminator(a["channels"], a["layers"])

    @property
    def trained_styles(self) -> list[str]:
        return [s["name"] for s in self.hparams.styles]

    # -- setup ---------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        if not self.loss.has_style:
            styles = self.hparams.styles
            images = [load_image(s["image"], s.get("size")).to(self.device) for s in styles]
            weights = [self.loss.style_weight if s.get("weight") is None else s["weight"] for s in styles]  # 0 stays 0
            self.loss.set_styles(images, weights)
            if self.disc is not None:  # the discriminator's real patches
                self.register_buffer("style_image", images[0], persistent=False)
        self.speed_up(bf16=self._autocast(), compile=self.hparams.compile)

    def speed_up(self, bf16: bool, compile: bool = False) -> None:
        """The fast paths of a training step (see docs/performance.md); the benchmark calls this too.

        The network's layers switch to their fast forms (``stylenet.model.fast.speed_up``: same
        parameters, same function) and, like the frozen VGG, run channels-last (13% faster
        steps in fp32 on a 2-core AVX2 CPU, docs/performance.md); under bf16 autocast the
        VGG keeps its weights in bf16 (no per-step casts). ``compile`` also runs
        the network and the VGG through torch.compile (about a minute to compile on a
        2-core CPU, then faster steps).
        """
        fast_layout(self.net, self.loss.vgg, bf16)
        if compile and not getattr(self, "_compiled", False):
            self.net.compile(dynamic=False)  # fixed crops; dynamic shapes trip a torch bug on the padding arithmetic
            self.loss.vgg.compile(dynamic=False)
            self._compiled = True

    def batch_styles(self, batch: int, step: int) -> torch.Tensor:
        """Which trained style each sample of a step gets (indices into ``styles``): a
        rotation through all of them, offset by rank so that DDP ranks differ."""
        world, rank = (self.trainer.world_size, self.trainer.global_rank) if self._trainer is not None else (1, 0)
        first = (step * world + rank) * batch
        return (torch.arange(batch, device=self.device) + first) % len(self.hparams.styles)

    def stylize(self, x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """The network's outputs for ``x`` in trained styles ``k`` (indices into ``styles``)."""
        x = x.contiguous(memory_format=torch.channels_last)  # the layout speed_up gives the network
        return self.net(x, self.rows[k]) if self.net.num_styles else self.net(x)

    def step_losses(self, batch: torch.Tensor, step: int = 0) -> LossTerms:
        """Forward pass of one training step: stylize the batch and compute its weighted loss terms."""
        k = self.batch_styles(batch.shape[0], step)
        self._batch_styles = k
        y = self.stylize(batch, k)
        self._outputs = y
        terms = self.loss(y, batch, k)
        if w := self.stability.get("weight"):
            knobs = {key: v for key, v in self.stability.items() if key != "weight"}
            value = stability_loss(lambda z: self.stylize(z, k), batch, y, **knobs)
            terms.add("stability", value, w * value)
        if self.disc is not None:
            crop = self.adversarial.get("crop", adv.DEFAULTS["crop"])
            value = adv.generator_loss(self.disc(adv.random_crops(y, len(y), crop)))
            terms.add("adversarial", value, self.adversarial["weight"] * value)
        return terms

    def configure_optimizers(self):
        o = {**OPTIM, **self.hparams.optim}  # a module built in code may leave settings out
        tables = [p for p in norm_parameters(self.net) if p.requires_grad]
        ids = {id(p) for p in tables}
        rest = [p for p in self.net.parameters() if p.requires_grad and id(p) not in ids]
        opt = adam(lr_groups(rest, tables, o), o["lr"])
        optimizers = [opt]
        if self.disc is not None:  # the discriminator's own Adam, at the usual GAN betas
            lr = self.adversarial.get("lr", adv.DEFAULTS["lr"])
            optimizers.append(adam(self.disc.parameters(), lr, betas=(0.5, 0.999)))
        # the run's steps: max_steps, or an epoch-based run's epochs x batches (Lightning's estimate)
        total = self.trainer.estimated_stepping_batches if self._trainer is not None else 1
        warmup, schedule = o["warmup_steps"], o["schedule"]
        if schedule not in ("constant", "cosine"):
            raise ValueError(f"unknown optim.schedule {schedule!r}; use constant or cosine")
        if schedule == "cosine" and not math.isfinite(total):
            raise ValueError("optim.schedule=cosine needs a run of known length: set trainer.max_steps or max_epochs")
        # the schedule's length; a time budget (callbacks.TimeBudget) sets it to the steps that fit
        self.planned_steps = max(1, int(total)) if math.isfinite(total) else 1
        self.schedule_steps = schedule_length(self, self.planned_steps)
        floor = o["min_lr_ratio"]
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: lr_factor(step, schedule, warmup, self.schedule_steps, floor)
        )
        return optimizers, [{"scheduler": sched, "interval": "step"}]

    # -- training ------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _bad_everywhere(self, bad: bool) -> bool:
        """Any rank's bad step is every rank's: DDP ranks must skip together."""
        return bool(self.trainer.strategy.reduce_boolean_decision(bad, all=False))

    def _skip(self, opt, why: str) -> None:
        for o in opt if isinstance(opt, (list, tuple)) else [opt]:
            o.zero_grad(set_to_none=True)
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
        opts = self.optimizers()
        opt, opt_d = (opts[0], opts[1]) if isinstance(opts, (list, tuple)) else (opts, None)
        sched = self.lr_schedulers()
        parts = self.step_losses(batch, self.global_step)
        loss = parts["total"]
        value = float(loss.detach())
        if self._bad_everywhere(self.guard.is_bad(value)):  # a bad step updates neither network
            return self._skip(opts, f"loss {value:.4g}, running average {self.guard.average or float('nan'):.4g}")
        opt.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        clip = {**OPTIM, **self.hparams.optim}["grad_clip"] or float("inf")
        norm = torch.nn.utils.clip_grad_norm_([p for p in self.net.parameters() if p.requires_grad], clip)
        if self._bad_everywhere(not bool(torch.isfinite(norm))):
            return self._skip(opts, "non-finite gradient")
        opt.step()
        sched.step()
        self.guard.accept(value)
        self.last_losses = {k: float(v.detach()) for k, v in parts.items()}
        if opt_d is not None:
            self.last_losses.update(self.discriminator_step(opt_d, self._outputs.detach()))
        self.log_dict({f"train/{k}": v for k, v in self.last_losses.items()}, on_step=True)
        if len(self.trained_styles) > 1:  # each style's loss, on the steps that drew it
            each, drawn = self.loss.last_style_each, self._batch_styles
            for k in drawn.unique().tolist():
                self.log(f"train/style/{self.trained_styles[k]}", float(each[drawn == k].mean()), on_step=True)
        self.log("train/grad_norm", float(norm), on_step=True)
        self.log("train/lr", sched.get_last_lr()[0], on_step=True)
        self.log("loss", value, prog_bar=True, logger=False)

    def discriminator_step(self, opt_d, fake: torch.Tensor) -> dict[str, float]:
        """One hinge-loss step of the discriminator: style-image crops real, the step's outputs fake.
        A non-finite loss or gradient (on any rank) skips it. Returns its loss and accuracy."""
        crop = self.adversarial.get("crop", adv.DEFAULTS["crop"])
        real = adv.random_crops(self.style_image, len(fake), crop)
        r, f = self.disc(real), self.disc(adv.random_crops(fake, len(fake), crop))
        loss = adv.discriminator_loss(r, f)
        out = {"adversarial/d_loss": float(loss.detach()), "adversarial/d_accuracy": float(adv.accuracy(r, f))}
        opt_d.zero_grad(set_to_none=True)
        if self._bad_everywhere(not math.isfinite(out["adversarial/d_loss"])):
            return out
        self.manual_backward(loss)
        norm = torch.nn.utils.clip_grad_norm_(self.disc.parameters(), float("inf"))
        if self._bad_everywhere(not bool(torch.isfinite(norm))):
            opt_d.zero_grad(set_to_none=True)
            return out
        # the raw optimizer: Lightning counts every LightningOptimizer.step() as a training step
        getattr(opt_d, "optimizer", opt_d).step()
        return out

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        """Held-out losses (``holdout/*``, per style too), averaged over all held-out photos:
        what checkpoints can monitor (``ModelCheckpoint(monitor="holdout/total")``)."""
        _, losses = self.evaluate(batch)
        self.log_dict({f"holdout/{k}": v for k, v in losses.items()}, batch_size=len(batch), sync_dist=True)

    @torch.no_grad()
    def evaluate(self, photos: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Stylize held-out ``photos`` in every trained style, in eval mode.

        Returns outputs ``(S, P, 3, H, W)`` and losses: each term averaged over the
        styles, and with several styles ``content/<name>`` and ``style/<name>`` too.
        """
        was_training = self.net.training
        self.net.eval()
        outputs, losses = [], {}
        try:
            for k, name in enumerate(self.trained_styles):
                idx = torch.full((len(photos),), k, device=photos.device)
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self._autocast()):
                    y = self.stylize(photos, idx).float()
                    parts = {t: float(v) for t, v in self.loss(y, photos, idx).items()}
                outputs.append(y)
                for t, v in parts.items():
                    losses[t] = losses.get(t, 0.0) + v / len(self.trained_styles)
                if len(self.trained_styles) > 1:
                    losses.update({f"content/{name}": parts["content"], f"style/{name}": parts["style"]})
        finally:
            self.net.train(was_training)
        return torch.stack(outputs), losses

    def _autocast(self) -> bool:
        return "bf16" in str(self.trainer.precision) if self._trainer is not None else False

    # -- checkpoints ---------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        kept = ("net.", "disc.")  # the network and the discriminator; the VGG is rebuilt from its source
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k.startswith(kept)}
        checkpoint["loss_guard"] = self.guard.state_dict()
        remember_schedule(self, checkpoint)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        remember_schedule(self, checkpoint, loading=True)
        own = {k for k in self.state_dict() if k.startswith(("net.", "disc."))}
        missing = own - set(checkpoint["state_dict"])
        if any(k.startswith("disc.") for k in missing) and not missing - {k for k in own if k.startswith("disc.")}:
            raise ValueError(
                "checkpoint has no discriminator (trained without loss.adversarial): resume it with "
                "loss.adversarial.weight=0, or start a new run from its weights with init_weights=<exported file>"
            )
        if missing:
            raise ValueError(f"checkpoint does not hold this network: missing {sorted(missing)[:3]}")
        if self.disc is None and any(k.startswith("disc.") for k in checkpoint["state_dict"]):
            raise ValueError(
                "checkpoint was trained with loss.adversarial: resume it with the same loss.adversarial.weight, "
                "or start a new run from its weights with init_weights=<exported file>"
            )
        if "loss_guard" in checkpoint:
            self.guard.load_state_dict(checkpoint["loss_guard"])
