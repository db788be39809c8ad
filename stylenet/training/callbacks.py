"""Training callbacks: TensorBoard previews, bad-file reporting, a run-long progress bar,
a checkpoint on interruption."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ProgressBar
from pytorch_lightning.utilities import rank_zero_only, rank_zero_warn
from pytorch_lightning.utilities.exceptions import SIGTERMException
from torchvision.utils import make_grid

from ..progress import progress_bar
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
                trainer.save_checkpoint(self.path)
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
