"""(photo, painting) pairs for arbitrary-style training (``stylenet.model.adain``).

Photos come from one or more folders; each folder keeps its own ``holdout`` photos out
of training, chosen exactly as ``PhotoDataModule`` chooses them (``split_holdout``), so
a folder's held-out photos are the same whichever model trains on it. Paintings come
from one or more folders; the ones named in ``holdout_paintings`` (file names) are
never trained on. A training pair is a random crop of a photo (shorter side resized
to the crop) and a random crop of a random painting whose shorter side is resized to
``painting_scale`` (a random factor in that range) times the crop (Huang & Belongie:
512 then a 256 crop). Held-out pairs are fixed: pair k is held-out photo k mod N with
held-out painting k mod P, centre crops. Unreadable files are skipped and counted.
With ``identity`` > 0 that share of training pairs takes the photo itself as the painting (another
crop, at the painting's scale): trained against its own style, a network learns to give a photo
back when handed its own statistics (a style predictor's ``strength=0``).
"""

from __future__ import annotations

import multiprocessing as mp
import random
import warnings
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from ..io.images import list_images
from ..io.photos import load_photo, split_holdout
from .data import DataError, training_loader

Pair = tuple[torch.Tensor, torch.Tensor]


class PairDataset(Dataset):
    """Item i: photo i and a painting (random for training, else painting i), uint8 square crops.
    A bad file is replaced by the next good one of its list."""

    def __init__(
        self,
        photos: list[Path],
        paintings: list[Path],
        size: int,
        painting_scale: tuple[float, float] = (1.0, 1.0),
        train: bool = True,
        skipped=None,
        identity: float = 0.0,
    ):
        self.photos, self.paintings, self.size, self.train = photos, paintings, size, train
        self.painting_scale, self.identity = painting_scale, identity
        self.skipped = skipped if skipped is not None else mp.Value("i", 0)

    def __len__(self) -> int:
        return len(self.photos)

    def _load(self, files: list[Path], i: int, short_side: int | None = None) -> torch.Tensor:
        for k in range(len(files)):
            path = files[(i + k) % len(files)]
            try:
                return load_photo(path, self.size, self.train, short_side)
            except Exception as e:  # corrupt, truncated, not an image: skip it
                with self.skipped.get_lock():
                    self.skipped.value += 1
                warnings.warn(f"skipping unreadable image {path}: {e.__class__.__name__}: {e}", stacklevel=1)
        raise DataError(f"no readable image among the {len(files)} files")

    def __getitem__(self, i: int) -> Pair:
        scale = self.painting_scale
        if not self.train:
            files, j, s = self.paintings, i, sum(scale) / 2
        elif self.identity and random.random() < self.identity:  # the photo as its own painting
            files, j, s = self.photos, i, random.uniform(*scale)
        else:
            files, j, s = self.paintings, random.randrange(len(self.paintings)), random.uniform(*scale)
        return self._load(self.photos, i), self._load(files, j, round(self.size * s))


class AdaINDataModule(pl.LightningDataModule):
    def __init__(
        self,
        photos: list[str],
        paintings: list[str],
        holdout_paintings: list[str],
        image_size: int = 256,
        batch_size: int = 8,
        num_workers: int = 2,
        holdout: int = 16,
        preview: int = 4,
        painting_scale: tuple[float, float] = (1.0, 1.5),
        holdout_pairs: int = 64,
        preview_paintings: int = 6,
        identity_pairs: float = 0.0,
    ):
        super().__init__()
        self.photo_roots, self.painting_roots = [Path(p) for p in photos], [Path(p) for p in paintings]
        self.holdout_names = list(holdout_paintings)
        self.image_size, self.batch_size, self.num_workers = image_size, batch_size, num_workers
        self.holdout, self.preview, self.preview_paintings = holdout, preview, preview_paintings
        self.painting_scale, self.holdout_pairs = (float(painting_scale[0]), float(painting_scale[1])), holdout_pairs
        self.identity_pairs = identity_pairs
        self.root = ", ".join(map(str, self.photo_roots + self.painting_roots))  # for ReportSkippedImages
        self.skipped = mp.Value("i", 0)
        self.train_files: list[Path] = []  # photos
        self.holdout_files: list[Path] = []
        self.train_paintings: list[Path] = []
        self.holdout_painting_files: list[Path] = []

    def scan(self) -> None:
        """List and split photos and paintings; raises ``DataError`` naming a bad folder or name."""
        self.train_files, self.holdout_files = [], []
        for root in self.photo_roots:
            if not root.is_dir():
                raise DataError(f"photo folder {str(root)!r} is missing; set adain.photos=[/path/to/photos, ...]")
            files = list_images(root)
            if len(files) <= self.holdout:
                raise DataError(
                    f"photo folder {str(root)!r} holds {len(files)} image(s), need more than "
                    f"data.holdout={self.holdout}; point adain.photos at folders of JPEG/PNG photos"
                )
            train, held = split_holdout(files, root, self.holdout)
            self.train_files += train
            self.holdout_files += held
        paintings = []
        for root in self.painting_roots:
            if not root.is_dir():
                raise DataError(
                    f"painting folder {str(root)!r} is missing; set adain.paintings=[/path/to/paintings, ...]"
                )
            paintings += list_images(root)
        if not paintings:
            raise DataError(
                f"no paintings found in {', '.join(map(str, self.painting_roots))}; "
                "set adain.paintings=[/path/to/paintings, ...] (JPEG/PNG files)"
            )
        names = set(self.holdout_names)
        unknown = sorted(names - {p.name for p in paintings})
        if unknown:
            raise DataError(
                f"adain.holdout_paintings names {unknown[:3]}{' ...' if len(unknown) > 3 else ''}, "
                f"in none of adain.paintings; list file names found there"
            )
        if not names:
            raise DataError("adain.holdout_paintings is empty; name a few painting files never to train on")
        by_name = {p.name: p for p in paintings}
        self.holdout_painting_files = [by_name[n] for n in self.holdout_names]
        self.train_paintings = [p for p in paintings if p.name not in names]
        if not self.train_paintings:
            raise DataError("every painting is held out; add paintings to adain.paintings")
        if len(self.train_files) < self.batch_size:
            raise DataError(f"adain.photos hold too few photos for data.batch_size={self.batch_size}")

    def setup(self, stage: str | None = None) -> None:
        if not self.train_files:
            self.scan()

    def train_dataloader(self) -> DataLoader:
        ds = PairDataset(
            self.train_files,
            self.train_paintings,
            self.image_size,
            self.painting_scale,
            True,
            self.skipped,
            self.identity_pairs,
        )
        return training_loader(ds, self.batch_size, self.num_workers)

    def holdout_pair_files(self) -> tuple[list[Path], list[Path]]:
        """The fixed held-out pairs: photo k mod N with painting k mod P, k < ``holdout_pairs``."""
        n, p = len(self.holdout_files), len(self.holdout_painting_files)
        ks = range(self.holdout_pairs)
        return [self.holdout_files[k % n] for k in ks], [self.holdout_painting_files[k % p] for k in ks]

    def val_dataloader(self) -> DataLoader:
        """Held-out pairs, centre crops, for the held-out losses (Lightning's validation loop)."""
        photos, paintings = self.holdout_pair_files()
        ds = PairDataset(photos, paintings, self.image_size, self.painting_scale, train=False)
        return DataLoader(ds, batch_size=self.batch_size, shuffle=False, num_workers=0)

    def preview_batch(self) -> Pair:
        """The held-out photos and paintings of the TensorBoard grid, float in [0, 1]: the first
        ``preview`` photos (rows) and ``preview_paintings`` paintings (columns), centre crops."""
        photos = self.holdout_files[: self.preview]
        paintings = self.holdout_painting_files[: self.preview_paintings]
        side = round(self.image_size * sum(self.painting_scale) / 2)
        x = torch.stack([load_photo(f, self.image_size) for f in photos])
        s = torch.stack([load_photo(f, self.image_size, short_side=side) for f in paintings])
        return x.float() / 255.0, s.float() / 255.0

    def on_after_batch_transfer(self, batch: Pair, dataloader_idx: int) -> Pair:
        photos, paintings = batch  # uint8 crosses process and device boundaries; [0, 1] from here
        return photos.float().div_(255.0), paintings.float().div_(255.0)
