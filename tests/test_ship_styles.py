"""scripts/ship_styles.py: which network serves a style name, and what it writes into the cards.

Tiny random-weight networks, random VGG and a few small photos, in a tmp package folder.
"""

import hashlib
import json

import pytest

from stylenet.errors import StylenetError
from stylenet.io.weights import load_weights, save_weights
from stylenet.styles.mix import row_card

from conftest import load_script, make_multi_net


@pytest.fixture
def ship():
    return load_script("ship_styles")


def _ev(content: float, style: float, photos: str = "the held-out photos") -> dict:
    return {"photos": photos, "output_content_loss": content, "output_style_loss": style}


def test_a_row_serves_its_name_when_no_worse_on_both_losses(ship):
    why, versus = ship.row_serves("a", "trio", _ev(1.0, 2.0), {"card": {"evaluation": _ev(1.0, 3.0)}}, [])
    assert why == "at least as good on both losses" and "single-style file: content 1.000, style 3.000" in versus
    assert ship.row_serves("a", "trio", _ev(1.0, 2.0), {}, [])[0] == "at least as good on both losses"


def test_a_row_worse_on_one_loss_leaves_the_single_file_unless_named_in_use_rows(ship):
    shipped = {"file": "a.safetensors", "card": {"evaluation": _ev(0.5, 3.0)}}
    assert ship.row_serves("a", "trio", _ev(1.0, 2.0), shipped, [])[0] is None
    assert ship.row_serves("a", "trio", _ev(1.0, 2.0), shipped, ["a"])[0] == "named in --use-rows"


def test_a_worse_row_never_replaces_a_shipped_row(ship):
    shipped = {"file": "trio.safetensors", "row": "a", "card": {"evaluation": _ev(0.5, 3.0)}}
    with pytest.raises(StylenetError, match="worse than the shipped one .*--use-rows a"):
        ship.row_serves("a", "trio", _ev(1.0, 2.0), shipped, [])
    assert ship.row_serves("a", "trio", _ev(1.0, 2.0), shipped, ["a"])[0] == "named in --use-rows"


def test_rows_evaluated_on_other_photos_are_not_compared(ship):
    with pytest.raises(StylenetError, match="evaluated on other photos"):
        ship.row_serves("a", "trio", _ev(0.0, 0.0), {"card": {"evaluation": _ev(1.0, 1.0, "others")}}, [])


def test_shipping_a_multi_style_run_writes_served_by_into_every_card(
    ship, tmp_path, monkeypatch, photo_dir, style_image, small_net
):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    monkeypatch.setattr(ship, "PACKAGE", pkg)
    photos = f"the 2 held-out photos of {photo_dir} (never trained on), 32 px centre crops"

    def single(name: str, loss: float) -> dict:  # a shipped single-style file with these held-out losses
        card = {"style": name, "evaluation": _ev(loss, loss, photos)}
        path = save_weights(small_net, pkg / f"{name}.safetensors", card)
        return {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "card": card}

    # a: the single file is unbeatable (losses 0), b: any row beats it, c: no single file at all
    index = {"styles": {"a": single("a", 0.0), "b": single("b", 1e9)}}
    (pkg / "index.json").write_text(json.dumps(index))

    run = tmp_path / "run"
    run.mkdir()
    net = make_multi_net()
    image = {"file": style_image.name, "size": 32}
    card = {
        "style": "trio",
        "recipe": {"image_size": 32},
        "training_data": {"photos": 10, "holdout": 2},
        "loss": {"content_layers": ["relu2_2"], "style_layers": ["relu1_2", "relu2_2"]},
        "styles": {n: {"style_image": image} for n in net.style_names},
    }
    save_weights(net, run / "trio.safetensors", card)
    (run / "card.json").write_text(json.dumps(card))

    args = [str(run), "--photos", str(photo_dir), "--styles-dir", str(style_image.parent), "--vgg", "random"]
    assert ship.main(args) == 0

    index = json.loads((pkg / "index.json").read_text())
    assert list(index["styles"]) == ["a", "b", "c", "trio"]
    shipped = index["styles"]["trio"]["card"]["styles"]
    assert all(shipped[n]["evaluation"]["photos"] == photos for n in "abc")
    assert shipped["a"]["served_by"].startswith("the single-style file a.safetensors (trio row: content ")
    for n in "bc":
        assert shipped[n]["served_by"].startswith("the multi-style network trio (at least as good on both losses")
        assert index["styles"][n] == {
            "file": "trio.safetensors",
            "sha256": index["styles"]["trio"]["sha256"],
            "row": n,
            "card": row_card(index["styles"]["trio"]["card"], n),
        }
    assert "no single-style file" in shipped["c"]["served_by"]
    assert sorted(p.name for p in pkg.glob("*.safetensors")) == ["a.safetensors", "trio.safetensors"]  # b's is gone
    kept = index["styles"]["a"]
    assert kept["card"]["served_by"].startswith("this single-style file (the multi-style row is worse: ")
    assert load_weights(pkg / "a.safetensors")[1] == kept["card"]  # the file's header says so too
    assert kept["sha256"] == hashlib.sha256((pkg / "a.safetensors").read_bytes()).hexdigest()


def test_a_shipped_style_evaluated_at_another_size_is_measured_again_before_the_comparison(
    ship, tmp_path, monkeypatch, photo_dir, style_image, small_net
):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    monkeypatch.setattr(ship, "PACKAGE", pkg)
    image = {"file": style_image.name, "size": 32}
    common = {"training_data": {"photos": 10, "holdout": 2}, "loss": {"style_layers": ["relu1_2", "relu2_2"]}}
    a_card = {"style": "a", "recipe": {"image_size": 16}, "style_image": image, **common}
    a_card["evaluation"] = _ev(1e9, 1e9, "16 px photos")  # recorded at 16 px: not comparable with 32 px
    path = save_weights(small_net, pkg / "a.safetensors", a_card)
    entry = {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "card": a_card}
    (pkg / "index.json").write_text(json.dumps({"styles": {"a": entry}}))
    run = tmp_path / "run"
    run.mkdir()
    net = make_multi_net()
    card = {"style": "trio", "recipe": {"image_size": 32}, **common}
    card["styles"] = {n: {"style_image": image} for n in net.style_names}
    save_weights(net, run / "trio.safetensors", card)
    (run / "card.json").write_text(json.dumps(card))

    args = [str(run), "--photos", str(photo_dir), "--styles-dir", str(style_image.parent), "--vgg", "random"]
    assert ship.main(args) == 0
    served_by = json.loads((pkg / "index.json").read_text())["styles"]["trio"]["card"]["styles"]["a"]["served_by"]
    fresh = ship.evaluation(small_net, a_card, photo_dir, style_image.parent, "random", 32)
    assert f"single-style file: content {fresh['output_content_loss']:.3f}" in served_by  # not the 16 px 1e9
    assert "1000000000" not in served_by


def test_help_exits_0(ship, capsys):
    with pytest.raises(SystemExit) as e:
        ship.main(["--help"])
    assert e.value.code == 0 and "ship_styles" in capsys.readouterr().out
