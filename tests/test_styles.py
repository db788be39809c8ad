"""The styles shipped inside the package: files, hashes, cards, and that they really stylize."""

import json

import numpy as np
import pytest
import torch

import stylenet
from stylenet.download import sha256_file
from stylenet.registry import PACKAGE_DIR

from conftest import SHARED_CONTENT, random_image

CLASSIC = [
    "candy",
    "composition_vii",
    "feathers",
    "la_muse",
    "mosaic",
    "rain_princess",
    "starry_night",
    "the_scream",
    "udnie",
    "wave",
]
INDEX = json.loads((PACKAGE_DIR / "index.json").read_text())["styles"]
CARD_KEYS = {
    "style",
    "style_image",
    "recipe",
    "loss",
    "vgg",
    "training_data",
    "steps",
    "final_losses",
    "evaluation",
    "train_seconds",
    "command",
    "weights",
}


def test_the_ten_classic_styles_are_shipped():
    assert sorted(INDEX) == CLASSIC
    assert [n for n, s in stylenet.available_styles().items() if s.origin == "package"] == CLASSIC


@pytest.mark.parametrize("name", CLASSIC)
def test_file_hash_size_and_card(name):
    entry = INDEX[name]
    path = PACKAGE_DIR / entry["file"]
    assert sha256_file(path) == entry["sha256"]
    assert path.stat().st_size < 4_000_000
    card = entry["card"]
    assert CARD_KEYS <= set(card), CARD_KEYS - set(card)
    assert card["style"] == name and card["weights"] == "float16"
    image = card["style_image"]
    assert image["title"] and image["licence"] and image["source"] and len(image["sha256"]) == 64
    assert "vgg16_features_hed.pth" in card["vgg"] and "standing in for COCO" in card["training_data"]["note"]
    ev = card["evaluation"]
    assert int(ev["photos"].split()[1]) >= 20  # "the 32 held-out photos ..."
    assert ev["output_style_loss"] < ev["photo_style_loss"]
    assert card["command"].startswith(f"python scripts/train.py experiment={name} ")
    assert stylenet.load(name).card == card  # the file's own header carries the same card


@pytest.mark.parametrize("name", CLASSIC)
def test_each_style_changes_a_photo_substantially(name):
    photo = (
        np.asarray(stylenet.imageio.open_image(SHARED_CONTENT / "tubingen.jpg").resize((256, 192)))
        if (SHARED_CONTENT / "tubingen.jpg").is_file()
        else np.asarray(random_image(192, 256))
    )
    out = stylenet.stylize(photo, name)
    assert out.shape == photo.shape
    diff = np.abs(out.astype(np.float32) - photo.astype(np.float32)).mean() / 255
    assert diff > 0.08, f"{name} barely changes the photo (mean difference {diff:.3f})"


def test_shipped_styles_load_without_network(monkeypatch):
    import urllib.request

    def no_network(*a, **k):
        raise AssertionError("a shipped style tried to download")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    net = stylenet.load("mosaic")
    assert isinstance(net, stylenet.TransformerNet) and next(net.parameters()).dtype == torch.float32
