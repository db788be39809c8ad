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


def test_a_pinned_weight_shares_the_cell_between_networks_trained_at_other_weights(
    gallery, tmp_path, small_net, style_image, monkeypatch
):
    from stylenet.io.weights import save_weights

    photo = tmp_path / "c.png"
    random_image(40, 56, seed=0).save(photo)
    nets = [
        save_weights(small_net, tmp_path / f"n{w}.safetensors", {"style": "n", "loss": {"style_weight": w}})
        for w in (4.0, 6.0)
    ]
    cache = tmp_path / "cache"
    args = ["--content", str(photo), "--size", "32", "--style-image", str(style_image), "--vgg", "random"]
    args += ["--optimize", "2", "--optimize-cache", str(cache)]
    gallery.main(["--styles", str(nets[0]), *args, "--style-weight", "5", "-o", str(tmp_path / "a.png")])
    assert len(list(cache.glob("*.png"))) == 1

    def refuse(*a, **k):
        raise AssertionError("optimized again")

    monkeypatch.setattr(gallery, "optimize", refuse)
    gallery.main(["--styles", str(nets[1]), *args, "--style-weight", "5", "-o", str(tmp_path / "b.png")])
    with pytest.raises(AssertionError, match="optimized again"):  # unpinned, the card's own weight counts
        gallery.main(["--styles", str(nets[1]), *args, "-o", str(tmp_path / "d.png")])


def test_columns_are_labelled_with_the_style_argument_a_mix_whole_and_a_file_by_its_stem(
    gallery, tmp_path, multi_file, weights_file, monkeypatch
):
    from stylenet.styles.install import install

    install(multi_file)
    labels = []
    real = gallery.ImageDraw.Draw

    def recording(image):
        draw = real(image)
        text = draw.text
        draw.text = lambda xy, s, **k: labels.append(s) or text(xy, s, **k)
        return draw

    monkeypatch.setattr(gallery.ImageDraw, "Draw", recording)
    content = tmp_path / "c.png"
    random_image(40, 56).save(content)
    styles = ["a:0.5,c:0.5", "b", str(weights_file)]
    gallery.main(["--styles", *styles, "--content", str(content), "--size", "32", "-o", str(tmp_path / "g.png")])
    assert labels == ["photo", "a:0.5,c:0.5", "b", "tiny"]


def test_an_existing_output_is_refused_before_any_cell_is_drawn(gallery, tmp_path, weights_file, monkeypatch, capsys):
    content, out = tmp_path / "c.png", tmp_path / "g.png"
    random_image(40, 56).save(content)
    out.write_bytes(b"mine")
    monkeypatch.setattr(gallery.stylenet, "stylize", lambda *a, **k: pytest.fail("stylized before refusing"))
    for extra in (["--styles", str(weights_file)], ["--paintings", str(content)]):
        with pytest.raises(SystemExit) as e:
            gallery.main([*extra, "--content", str(content), "--size", "32", "-o", str(out)])
        assert e.value.code == 2 and "exists; pass overwrite (--overwrite)" in capsys.readouterr().err
    assert out.read_bytes() == b"mine"
