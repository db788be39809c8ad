"""scripts/targets256.py: a network's losses as multiples of its optimize:100 reference, and the verdict.

A tiny random-weight multi-style network, random VGG and a made-up reference report.
"""

import json

import pytest

from stylenet.io.download import sha256_file
from stylenet.io.weights import save_weights
from stylenet.loss.from_card import criterion_for
from stylenet.loss.perceptual import DEFAULT_STYLE_LAYERS
from stylenet.quality.evaluate import select_photos

from conftest import load_script, make_multi_net


@pytest.fixture
def targets():
    return load_script("targets256")


def test_the_verdict_is_met_within_both_bounds_and_names_each_bound_missed(targets):
    ref = {"content": 0.5, "style": 0.1}
    assert targets.verdict({"content": 0.75, "style": 0.1}, ref) == (1.5, 1.0, "met")
    content, style, words = targets.verdict({"content": 1.0, "style": 0.12}, ref)
    assert (content, round(style, 2)) == (2.0, 1.2)
    assert words == "missed: content 2.00x > 1.5x, style 1.20x > 1x"
    assert targets.verdict({"content": 0.5, "style": 0.2}, ref)[2] == "missed: style 2.00x > 1x"


def _reference(folder, photos, image, vgg, optimized):
    """A reference report as scripts/reference256.sh writes it, with made-up optimize:100 losses."""
    rows = [
        {"photo": p.name, "content": optimized[0], "style": optimized[1], "psnr": 20.0, "ssim": 0.5, "seconds": 60.0}
        for p in photos
    ]
    report = {"style_image": str(image), "style_size": 32, "size": 32, "vgg": vgg, "photos": [str(p) for p in photos]}
    report["style_image_sha256"] = sha256_file(image)
    report["loss"] = {"content_layers": {"relu2_2": 1.0}, "style_layers": dict.fromkeys(DEFAULT_STYLE_LAYERS, 1.0)}
    report["loss"] |= {"content_weight": 1.0, "style_weight": 5.0, "tv_weight": 5.0}
    report["results"] = {"optimize, 100 L-BFGS steps": {"mean": {}, "images": rows}}
    (folder / "b.json").write_text(json.dumps(report))


@pytest.fixture
def setup(tmp_path, photo_dir, style_image):
    net = make_multi_net()
    card = {"style": "trio", "recipe": {"image_size": 32}, "styles": {}}
    card["styles"] = {n: {"style_image": {"file": style_image.name, "size": 32}} for n in net.style_names}
    weights = save_weights(net, tmp_path / "trio.safetensors", card)
    photos = select_photos(photo_dir, holdout=2)
    vgg = criterion_for(card["styles"]["b"], "random", style_image, 32).vgg.describe()
    refs = tmp_path / "refs"
    refs.mkdir()
    args = ["--weights", str(weights), "--references", str(refs), "--styles-dir", str(style_image.parent)]
    return refs, photos, style_image, vgg, args + ["--vgg", "random"]


def _row_losses(setup, name: str) -> tuple[float, float]:
    """Row ``name`` of the setup's network on the photos, measured here: (content, style) means."""
    import stylenet
    from stylenet.quality.evaluate import evaluate

    _, photos, image, _, args = setup
    net = stylenet.load(name, network=args[args.index("--weights") + 1])
    criterion = criterion_for(net.card, "random", image, 32)
    mean = evaluate({name: net}, photos, criterion, size=32, progress=False, precision="fp32")[1].mean()
    return mean["content"], mean["style"]


def _printed_row(capsys, name: str) -> list[str]:
    lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith(f"{name} ")]
    assert len(lines) == 1
    return lines[0].split()


def test_a_row_is_measured_on_its_references_photos_and_judged(targets, setup, capsys):
    refs, photos, image, vgg, args = setup
    content, style = _row_losses(setup, "b")
    assert content > 0 and style > 0
    # a reference the row meets: its losses are 1.20x and 0.90x optimize:100's
    _reference(refs, photos, image, vgg, (content / 1.2, style / 0.9))
    assert targets.main(["b", *args]) == 0
    row = _printed_row(capsys, "b")
    assert row[2] == f"{content:7.3f}/{style:.3f}".strip()  # the network's own losses
    assert row[3:] == ["1.20x", "0.90x", "met"]
    # one it misses on both counts: 1.60x and 1.10x
    _reference(refs, photos, image, vgg, (content / 1.6, style / 1.1))
    assert targets.main(["b", *args]) == 0
    row = _printed_row(capsys, "b")
    assert row[3:] == ["1.60x", "1.10x", "missed:", "content", "1.60x", ">", "1.5x,", "style", "1.10x", ">", "1x"]
    # and one it misses on style alone (content 1.40x)
    _reference(refs, photos, image, vgg, (content / 1.4, style / 1.1))
    assert targets.main(["b", *args]) == 0
    assert _printed_row(capsys, "b")[3:] == ["1.40x", "1.10x", "missed:", "style", "1.10x", ">", "1x"]


def test_a_reference_measured_with_another_vgg_or_missing_is_a_one_line_error(targets, setup, capsys):
    refs, photos, image, vgg, args = setup
    _reference(refs, photos, image, "vgg16 vgg16_other.pth (caffe input)", (1.0, 1.0))
    with pytest.raises(SystemExit) as e:
        targets.main(["b", *args])
    assert e.value.code == 2 and "measured with another vgg" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        targets.main(["a", *args])
    assert "no reference for a; run scripts/reference256.sh a" in capsys.readouterr().err
