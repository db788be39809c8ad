"""scripts/gallery.py: the grid, and its optimize:N row computed once and then reused."""

import pytest
from PIL import Image

from conftest import load_script, random_image


@pytest.fixture
def gallery():
    return load_script("gallery")


def test_the_optimized_row_is_added_cached_and_reused(gallery, tmp_path, weights_file, style_image, monkeypatch):
    contents = []
    for k in range(2):
        contents.append(tmp_path / f"c{k}.png")
        random_image(40, 56, seed=k).save(contents[-1])
    cache = tmp_path / "cache"
    args = ["--styles", str(weights_file), str(weights_file), "--content", *map(str, contents), "--size", "32"]
    args += ["--style-image", str(style_image), "--vgg", "random", "--optimize-cache", str(cache)]

    gallery.main([*args, "-o", str(tmp_path / "plain.png")])
    assert Image.open(tmp_path / "plain.png").size == (3 * 32, gallery.LABEL + 2 * 32)

    gallery.main([*args, "--optimize", "2", "-o", str(tmp_path / "g.png")])
    grid = Image.open(tmp_path / "g.png").convert("RGB")
    assert grid.size == (3 * 32, gallery.LABEL + 3 * 32)
    cells = sorted(cache.glob("*.png"))
    assert len(cells) == 1 and cells[0].name.startswith("my_style_c0_32px_2_")  # one painting, one photo
    row = gallery.LABEL + 2 * 32
    photo_cell = grid.crop((0, row + 16, 32, row + 32))  # below the label
    optimized = grid.crop((32, row + 16, 64, row + 32))
    assert photo_cell.tobytes() != optimized.tobytes()  # the optimization changed the photo

    def refuse(*a, **k):
        raise AssertionError("optimized again")

    monkeypatch.setattr(gallery, "optimize", refuse)
    gallery.main([*args, "--optimize", "2", "-o", str(tmp_path / "again.png")])  # from the cache
    with pytest.raises(AssertionError, match="optimized again"):  # other steps: another cell
        gallery.main([*args, "--optimize", "3", "-o", str(tmp_path / "other.png")])
