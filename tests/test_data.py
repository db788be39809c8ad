import warnings

import pytest
import torch

from stylenet.io.images import list_images
from stylenet.io.photos import load_photo, split_holdout
from stylenet.training.data import DataError, PhotoDataModule, PhotoDataset


def test_photos_become_square_uint8_crops_of_any_mode(photo_dir):
    for f in list_images(photo_dir):
        x = load_photo(f, 32, random_crop=True)
        assert x.shape == (3, 32, 32) and x.dtype == torch.uint8


def test_center_crop_is_deterministic(photo_dir):
    f = list_images(photo_dir)[0]
    assert torch.equal(load_photo(f, 24), load_photo(f, 24))


def test_holdout_split_is_deterministic_disjoint_and_independent_of_the_root(photo_dir, tmp_path):
    files = list_images(photo_dir)
    train, held = split_holdout(files, photo_dir, 3)
    assert len(held) == 3 and not set(train) & set(held) and len(train) + 3 == len(files)
    moved = tmp_path / "elsewhere"
    photo_dir.rename(moved)
    _, held2 = split_holdout(list_images(moved), moved, 3)
    assert [p.relative_to(moved) for p in held2] == [p.relative_to(photo_dir) for p in held]


def test_corrupt_files_are_skipped_with_a_warning_and_counted(photo_dir):
    bad = photo_dir / "a" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 definitely not a whole jpeg")
    files = sorted(list_images(photo_dir))
    ds = PhotoDataset(files, 32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        items = [ds[i] for i in range(len(ds))]
    assert len(items) == len(files) and all(x.shape == (3, 32, 32) for x in items)
    assert ds.skipped.value == 1
    assert any("skipping unreadable image" in str(w.message) and "broken.jpg" in str(w.message) for w in caught)


def test_bad_roots_are_one_line_errors_with_the_fix(tmp_path):
    with pytest.raises(DataError, match="is not a folder; download COCO.*data.root="):
        PhotoDataModule(str(tmp_path / "missing")).scan()
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds 0 image"):
        PhotoDataModule(str(tmp_path / "empty")).scan()


def test_datamodule_batches_are_float_in_unit_range(photo_dir):
    dm = PhotoDataModule(str(photo_dir), image_size=32, batch_size=3, num_workers=0, holdout=2, preview=2)
    dm.setup()
    batch = dm.on_after_batch_transfer(next(iter(dm.train_dataloader())), 0)
    assert batch.shape == (3, 3, 32, 32) and batch.dtype == torch.float32 and 0 <= batch.min() and batch.max() <= 1
    preview = dm.preview_batch()
    assert preview.shape == (2, 3, 32, 32)
    assert set(dm.holdout_files).isdisjoint(dm.train_files)
