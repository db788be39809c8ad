"""Training callbacks: TensorBoard previews, bad-file reporting, a run-long progress bar,
a checkpoint on interruption, a time budget."""

from __future__ import annotations

import time

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ProgressBar
from pytorch_lightning.utilities import rank_zero_only, rank_zero_warn
from pytorch_lightning.utilities.exceptions import SIGTERMException
from torchvision.utils import make_grid

from ..io.progress import progress_bar
from .data import PhotoDataModule
from .module import StyleTransferModule


class PreviewImages(pl.Callback):
    """Every ``every_n_steps``, stylize the fixed held-out photos and log them.

    TensorBoard gets an image grid (photos on the top row, outputs below; one grid
    per style, ``preview/<style>``, for a multi-style network). The held-out losses
    (``holdout/*``) come from Lightning's validation loop over all held-out photos
    (``StyleTransferModule.validation_step``), at the same interval.
    """

    def __init__(self, data: PhotoDataModule, every_n_steps: int = 200):
        self.data, self.every_n_steps = data, every_n_steps
        self.photos: torch.Tensor | None = None

    def _log(self, trainer: pl.Trainer, module: StyleTransferModule) -> None:
        if self.photos is None:
            self.photos = self.data.preview_batch()
        photos = self.photos.to(module.device)
        outputs, _ = module.evaluate(photos)
        for logger in trainer.loggers:
            exp = getattr(logger, "experiment", None)
            if hasattr(exp, "add_image"):
                for name, out in zip(module.trained_styles, outputs):
                    grid = make_grid(torch.cat([photos, out]).cpu(), nrow=len(photos), padding=2)
                    tag = "preview" if len(outputs) == 1 else f"preview/{name}"
                    exp.add_image(tag, grid, trainer.global_step)

    @rank_zero_only
    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        if (
            self.every_n_steps > 0
            and step > 0
            and step % self.every_n_steps == 0
            and step != getattr(self, "_done", -1)
        ):
            self._done = step
            self._log(trainer, module)

    @rank_zero_only
    def on_train_end(self, trainer, module) -> None:
        if getattr(self, "_done", -1) != trainer.global_step:
            self._log(trainer, module)


class ReportSkippedImages(pl.Callback):
    """Say how many unreadable photos the data loader skipped."""

    def __init__(self, data: PhotoDataModule):
        self.data = data

    def on_train_end(self, trainer, module) -> None:
        n = self.data.skipped.value
        if n:
            rank_zero_warn(f"skipped {n} unreadable image(s) in {self.data.root} (reported above as they occurred)")
        for logger in trainer.loggers:
            logger.log_metrics({"data/skipped_images": float(n)}, step=trainer.global_step)


class StepProgressBar(ProgressBar):
    """One bar over the whole run (global step / max_steps) rather than per epoch."""

    def __init__(self):
        super().__init__()
        self.bar = None
        self.enabled = True

    def disable(self) -> None:
        self.enabled = False

    def enable(self) -> None:
        self.enabled = True

    def on_train_start(self, trainer, module) -> None:
        if self.enabled and trainer.is_global_zero:
            total = trainer.max_steps if trainer.max_steps > 0 else None
            self.bar = progress_bar(
                total=total, initial=trainer.global_step, desc="training", unit="step", dynamic_ncols=True
            )

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if self.bar is not None:
            total = trainer.max_steps if trainer.max_steps > 0 else None
            if total != self.bar.total:  # a time budget fitted max_steps: the bar's end and ETA follow
                self.bar.total = total
            self.bar.update(trainer.global_step - self.bar.n)
            losses = getattr(module, "last_losses", {})
            if losses:
                self.bar.set_postfix({k: f"{v:.3g}" for k, v in losses.items()}, refresh=False)

    def on_train_end(self, trainer, module) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def on_exception(self, trainer, module, exception) -> None:
        self.on_train_end(trainer, module)


class CheckpointOnInterrupt(pl.Callback):
    """Ctrl-C or SIGTERM (``kill``, a cluster's pre-emption) writes ``last.ckpt`` before the
    run stops, so ``resume=latest`` loses no steps. Single process only: a DDP run relies
    on the periodic checkpoints (saving needs every rank, which may be gone)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def on_exception(self, trainer, module, exception) -> None:
        if isinstance(exception, (KeyboardInterrupt, SIGTERMException)) and trainer.world_size == 1:
            if trainer.global_step > 0:
                trainer.save_checkpoint(self.path, weights_only=False)  # resumable: the optimizer too
                print(f"\ninterrupted at step {trainer.global_step}: saved {self.path}; continue with resume=latest")


class AdaINPreview(PreviewImages):
    """Every ``every_n_steps``, the held-out photos in the held-out paintings' styles: one grid,
    ``preview``, whose top row shows the paintings (a blank corner first) and each row below
    a photo and then its outputs, one column per painting."""

    def _log(self, trainer: pl.Trainer, module) -> None:
        if self.photos is None:
            self.photos, self.paintings = self.data.preview_batch()
        photos, paintings = self.photos.to(module.device), self.paintings.to(module.device)
        outputs = module.preview(photos, paintings)  # (P, N, 3, H, W)
        header = torch.cat([torch.ones_like(photos[:1]), paintings])
        rows = [torch.cat([photos[i : i + 1], outputs[:, i]]) for i in range(len(photos))]
        grid = make_grid(torch.cat([header, *rows]).cpu(), nrow=len(paintings) + 1, padding=2)
        for logger in trainer.loggers:
            exp = getattr(logger, "experiment", None)
            if hasattr(exp, "add_image"):
                exp.add_image("preview", grid, trainer.global_step)


class TimeBudget(pl.Callback):
    """Stop training ``seconds`` after ``start`` (``time.time()`` of the run's start, setup
    included; default: the start of training) and fit the run's length to that.

    After ``warmup`` steps (compilation, cuDNN autotuning, the data workers' start) the
    steps per second are measured over the next ``warmup`` steps, then again every
    ``warmup`` steps over all the steps since (validation, previews and checkpoints
    included). Each time, ``max_steps`` and the learning-rate schedule's length
    (``schedule_steps`` of ``StyleTransferModule`` and ``AdaINModule``) become the step that the time left reaches
    (never more than the configured ``max_steps``), so a cosine schedule ends where the run
    does. Whatever the estimate, training stops at the deadline; ``fit`` then returns
    normally, so the final validation and the export still run (leave them time).
    """

    def __init__(self, seconds: float, start: float | None = None, warmup: int = 50, margin: float = 0.97):
        if seconds <= 0:
            raise ValueError(f"time_budget={seconds} must be positive (seconds)")
        self.seconds, self.start, self.warmup, self.margin = float(seconds), start, max(1, warmup), margin
        self.mark: tuple[float, int] | None = None
        self.steps_per_second: float | None = None
        self.planned_steps: int | None = None
        self.stopped_at_deadline = False

    def on_train_start(self, trainer, module) -> None:
        self.deadline = (self.start if self.start is not None else time.time()) + self.seconds
        self.first = trainer.global_step
        self.limit = trainer.max_steps  # the configured one; -1: none

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        now, step = time.time(), trainer.global_step
        done = step - self.first
        if done == self.warmup:
            self.mark = (now, step)
        elif self.mark is not None and done > self.warmup and (done - self.warmup) % self.warmup == 0:
            if step > self.mark[1] and now > self.mark[0]:
                rate = (step - self.mark[1]) / (now - self.mark[0])
                target = step + int(rate * max(0.0, self.deadline - now) * self.margin)
                if self.limit is not None and self.limit > 0:
                    target = min(target, self.limit)
                target = int(trainer.strategy.broadcast(max(target, step)))  # DDP: every rank the same
                trainer.fit_loop.epoch_loop.max_steps = target
                module.schedule_steps = target
                if self.planned_steps is None and trainer.is_global_zero:
                    print(
                        f"\ntime budget: {rate:.2f} steps/s after warm-up, {target} steps fit in {self.seconds:.0f} s"
                    )
                self.steps_per_second, self.planned_steps = rate, target
        if trainer.strategy.broadcast(now >= self.deadline):
            trainer.should_stop = True
            self.stopped_at_deadline = True

    def summary(self) -> dict:
        """For the model card."""
        return {
            "seconds": self.seconds,
            "steps_per_second": round(self.steps_per_second, 3) if self.steps_per_second else None,
            "planned_steps": self.planned_steps,
            "stopped_at_deadline": self.stopped_at_deadline,
        }
