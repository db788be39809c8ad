"""Training photos: a folder of images (COCO train2014 or any nested JPEG/PNG folder).

Each photo is resized (shorter side to ``image_size``) and cropped to a square.
A fixed, hash-chosen set of ``holdout`` photos of ``root`` never enters training: the
preview grid and held-out losses use it, and ``stylenet evaluate`` can select
exactly the same photos with ``split_holdout``. Photos of ``extra_roots`` are all
trained on; they leave ``root``'s split as it is. Unreadable files are skipped with
a warning and counted; a run never dies on one bad JPEG.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import warnings
from pathlib import Path

import pytorch_lightning as pl
import torch
from lightning_fabric.utilities.seed import pl_worker_init_function
from torch.utils.data import DataLoader, Dataset

from ..errors import StylenetError
from ..io.images import list_images
from ..io.photos import load_photo, split_holdout


class DataError(StylenetError):
    """The photo folder cannot be used."""


def _init_worker(worker_id: int) -> None:
    """Workers ignore SIGTERM: a ``kill`` sent to the whole process group (``pkill -f``, a
    cluster's pre-emption) must reach the trainer, which checkpoints and stops; a worker
    dying first would crash the run instead. Workers still exit with the trainer."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    pl_worker_init_function(worker_id)  # Lightning's per-worker seeding (seed_everything(workers=True))


class PhotoDataset(Dataset):
    """Square uint8 crops of photos; a bad file is replaced by the next good one."""

    def __init__(self, files: list[Path], size: int, random_crop: bool = True, skipped=None):
        self.files, self.size, self.random_crop = files, size, random_crop
        self.skipped = skipped if skipped is not None else mp.Value("i", 0)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> torch.Tensor:
        for k in range(len(self.files)):
            path = self.files[(i + k) % len(self.files)]
            try:
                return load_photo(path, self.size, self.random_crop)
            except Exception as e:  # corrupt, truncated, not an image: skip it
                with self.skipped.get_lock():
                    self.skipped.value += 1
                warnings.warn(f"skipping unreadable image {path}: {e.__class__.__name__}: {e}", stacklevel=1)
        raise DataError(f"no readable image among the {len(self.files)} files")


def training_loader(ds: Dataset, batch_size: int, num_workers: int) -> DataLoader:
    """Shuffled full batches, decoded in ``num_workers`` persistent workers, each seeded apart."""
    return DataLoader(
        ds,
        batch_size=batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        pin_memory=torch.cuda.is_available(),
        worker_init_fn=_init_worker,
    )


class PhotoDataModule(pl.LightningDataModule):
    def __init__(
        self,
        root: str,
        image_size: int = 256,
        batch_size: int = 4,
        num_workers: int = 2,
        holdout: int = 16,
        preview: int = 4,
        extra_roots: list[str] | tuple[str, ...] = (),
    ):
        super().__init__()
        self.root, self.image_size, self.batch_size = Path(root), image_size, batch_size
        self.extra_roots = [Path(r) for r in extra_roots or ()]
        self.extra_files: list[Path] = []
        self.num_workers, self.holdout, self.preview = num_workers, holdout, preview
        self.skipped = mp.Value("i", 0)
        self.train_files: list[Path] = []
        self.holdout_files: list[Path] = []

    def scan(self) -> None:
        """List and split the photos; raises ``DataError`` with the fix for a bad root."""
        if not self.root.is_dir():
            raise DataError(
                f"data.root {str(self.root)!r} is not a folder; download COCO train2014 there "
                "(see data/README.md) or set data.root=/path/to/photos"
            )
        files = list_images(self.root)
        if len(files) <= self.holdout:
            raise DataError(
                f"data.root {str(self.root)!r} holds {len(files)} image(s), need more than data.holdout={self.holdout}; "
                "point data.root at a folder of JPEG/PNG photos"
            )
        extra: list[Path] = []
        for r in self.extra_roots:
            found = list_images(r) if r.is_dir() else []
            if not found:
                raise DataError(f"data.extra_roots: {str(r)!r} is not a folder of photos; fix or remove it")
            extra += found
        if len(files) - self.holdout + len(extra) < self.batch_size:
            raise DataError(f"data.root holds too few photos for data.batch_size={self.batch_size}")
        self.train_files, self.holdout_files = split_holdout(files, self.root, self.holdout)
        seen = set(self.train_files) | set(self.holdout_files)  # a folder inside root, or given twice: once
        self.extra_files = [f for f in dict.fromkeys(extra) if f not in seen]
        self.train_files += self.extra_files

    def setup(self, stage: str | None = None) -> None:
        if not self.train_files:
            self.scan()

    def train_dataloader(self) -> DataLoader:
        ds = PhotoDataset(self.train_files, self.image_size, random_crop=True, skipped=self.skipped)
        return training_loader(ds, self.batch_size, self.num_workers)

    def val_dataloader(self) -> DataLoader:
        """The held-out photos, centre crops, for the held-out losses (Lightning's validation loop)."""
        ds = PhotoDataset(self.holdout_files, self.image_size, random_crop=False)
        return DataLoader(ds, batch_size=self.batch_size, shuffle=False, num_workers=0)

    def preview_batch(self) -> torch.Tensor:
        """The fixed held-out photos shown in TensorBoard, float ``(N, 3, S, S)`` in [0, 1]."""
        ds = PhotoDataset(self.holdout_files[: self.preview], self.image_size, random_crop=False)
        return torch.stack([ds[i] for i in range(len(ds))]).float() / 255.0

    def on_after_batch_transfer(self, batch: torch.Tensor, dataloader_idx: int) -> torch.Tensor:
        return batch.float().div_(255.0)  # uint8 crosses process and device boundaries; [0, 1] from here
