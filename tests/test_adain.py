"""Arbitrary style transfer (AdaIN): the operation, the network, its weights file and its training."""

from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from stylenet.errors import StylenetError
from stylenet.model.adain import AdaINNet, adain, channel_stats, load_adain, save_adain
from stylenet.training.adain_data import AdaINDataModule, PairDataset
from stylenet.training.train import train

from conftest import CONFIG_DIR, SHARED, compose_config, needs_shared, random_image


@pytest.fixture(scope="module")
def net() -> AdaINNet:
    torch.manual_seed(0)
    return AdaINNet(weights="random").eval()


def test_adain_output_has_exactly_the_styles_channel_mean_and_std():
    torch.manual_seed(0)
    content = torch.randn(2, 8, 6, 7) * 3 + 1
    style = torch.randn(2, 8, 5, 9) * torch.rand(1, 8, 1, 1) * 4 - 2
    mean, std = channel_stats(style)
    out_mean, out_std = channel_stats(adain(content, mean, std))
    torch.testing.assert_close(out_mean, mean, atol=1e-5, rtol=0)
    torch.testing.assert_close(out_std, std, atol=1e-4, rtol=1e-5)


def test_channel_stats_are_the_per_channel_mean_and_population_std():
    x = torch.tensor([1.0, 2.0, 3.0, 6.0]).reshape(1, 1, 2, 2)
    mean, std = channel_stats(x, eps=0.0)
    assert float(mean) == 3.0 and float(std) == pytest.approx(3.5**0.5)


def test_alpha_zero_decodes_the_photos_own_features(net):
    photo, painting = torch.rand(1, 3, 32, 40), torch.rand(1, 3, 48, 48)
    expected = net.decoder(net.encode(photo))
    torch.testing.assert_close(net(photo, painting, alpha=0.0), expected)
    assert not torch.allclose(net(photo, painting, alpha=1.0), expected, atol=1e-3)


def test_a_mix_weighted_one_and_zero_equals_the_single_painting(net):
    photo = torch.rand(2, 3, 32, 32)
    a, b = torch.rand(1, 3, 40, 40), torch.rand(1, 3, 40, 40)
    stats = net.style_stats(torch.cat([a, b]))
    torch.testing.assert_close(net(photo, stats, weights=[1.0, 0.0]), net(photo, a))
    # an even mix is AdaIN with the averaged statistics: the mean of the two targets
    t = net.encode(photo)
    mixed = 0.5 * adain(t, *net.style_stats(a)) + 0.5 * adain(t, *net.style_stats(b))
    torch.testing.assert_close(net(photo, stats, weights=[2.0, 2.0]), net.decoder(mixed))


def test_output_is_in_unit_range_and_the_size_of_odd_sized_photos(net):
    photo = torch.rand(2, 3, 37, 45) * 3 - 1  # out-of-range input too
    out = net(photo, torch.rand(1, 3, 23, 31))
    assert out.shape == (2, 3, 37, 45) and 0 <= out.min() and out.max() <= 1
    with pytest.raises(ValueError, match="at least 16x16"):
        net(torch.rand(1, 3, 12, 40), torch.rand(1, 3, 32, 32))
    with pytest.raises(ValueError, match="3 paintings for 2 photos"):
        net(torch.rand(2, 3, 32, 32), torch.rand(3, 3, 32, 32))


def test_the_decoder_mirrors_the_encoder_up_to_relu4_1(net):
    convs = [m for m in net.decoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [
        (512, 256),
        (256, 256),
        (256, 256),
        (256, 128),
        (128, 128),
        (128, 64),
        (64, 64),
        (64, 3),
    ]
    assert not any(isinstance(m, torch.nn.modules.batchnorm._NormBase) for m in net.decoder.modules())
    assert all(not p.requires_grad for p in net.encoder.parameters())


def test_save_and_load_round_trip_gives_identical_outputs_and_the_card(net, tmp_path):
    with torch.no_grad():
        for p in net.decoder.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    path = save_adain(net, tmp_path / "adain.safetensors", {"name": "adain", "steps": 3})
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        assert all(k.startswith("layers.") for k in f.keys())  # the decoder only, no VGG
    loaded = load_adain(path)
    assert loaded.card == {"name": "adain", "steps": 3}
    photo, painting = torch.rand(1, 3, 33, 40), torch.rand(1, 3, 32, 32)
    assert torch.equal(loaded(photo, painting), net(photo, painting))


def test_a_corrupted_weights_file_is_a_clear_error(net, tmp_path):
    path = save_adain(net, tmp_path / "adain.safetensors")
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(StylenetError, match="does not match the digest"):
        load_adain(path)


# -- data -------------------------------------------------------------------------------
@pytest.fixture
def painting_dir(tmp_path: Path) -> Path:
    root = tmp_path / "paintings"
    root.mkdir()
    for i in range(6):
        random_image(48 + 4 * i, 40, seed=50 + i).save(root / f"p{i}.{'png' if i % 2 else 'jpg'}")
    return root


def test_held_out_paintings_are_never_in_the_training_set(photo_dir, painting_dir):
    dm = AdaINDataModule([str(photo_dir)], [str(painting_dir)], ["p1.png", "p4.jpg"], image_size=32, holdout=2)
    dm.scan()
    assert sorted(p.name for p in dm.holdout_painting_files) == ["p1.png", "p4.jpg"]
    assert sorted(p.name for p in dm.train_paintings) == ["p0.jpg", "p2.jpg", "p3.png", "p5.png"]
    _, pair_paintings = dm.holdout_pair_files()
    assert {p.name for p in pair_paintings} == {"p1.png", "p4.jpg"}


def test_the_experiments_held_out_paintings_exclude_the_classic_styles():
    import yaml

    spec = yaml.safe_load((CONFIG_DIR / "experiment" / "adain.yaml").read_text())
    names = spec["adain"]["holdout_paintings"]
    assert len(names) >= 16 and len(set(names)) == len(names)
    classic = {"candy", "composition_vii", "feathers", "la_muse", "mosaic", "rain_princess", "starry_night"}
    classic |= {"the_scream", "udnie", "wave"}
    assert not {Path(n).stem for n in names} & classic


@needs_shared
def test_the_shared_folders_split_as_the_photo_datamodule_does(tmp_path):
    from stylenet.training.data import PhotoDataModule

    cfg = compose_config(["experiment=adain", "paths=shared", f"paths.output_dir={tmp_path}"])
    a = cfg.adain
    dm = AdaINDataModule(list(a.photos), list(a.paintings), list(a.holdout_paintings), holdout=cfg.data.holdout)
    dm.scan()
    assert {p.name for p in dm.holdout_painting_files} == set(a.holdout_paintings)
    assert not {p.name for p in dm.train_paintings} & set(a.holdout_paintings)
    photos = PhotoDataModule(str(SHARED / "data" / "photos"), holdout=cfg.data.holdout)
    photos.scan()
    resolved = {p.resolve() for p in dm.holdout_files}
    assert {p.resolve() for p in photos.holdout_files} <= resolved
    assert not resolved & {p.resolve() for p in dm.train_files}


def test_pairs_are_square_crops_of_the_same_size_in_unit_range(photo_dir, painting_dir):
    dm = AdaINDataModule([str(photo_dir)], [str(painting_dir)], ["p1.png"], image_size=32, batch_size=3, holdout=2)
    dm.num_workers = 0
    dm.setup()
    photos, paintings = dm.on_after_batch_transfer(next(iter(dm.train_dataloader())), 0)
    assert photos.shape == paintings.shape == (3, 3, 32, 32)
    assert 0 <= float(paintings.min()) and float(paintings.max()) <= 1 and float(paintings.std()) > 0


def test_identity_pairs_take_the_photo_itself_as_the_painting(photo_dir, tmp_path):
    from PIL import Image

    (tmp_path / "red").mkdir()
    Image.new("RGB", (40, 40), (255, 0, 0)).save(tmp_path / "red" / "red.png")
    photos, paintings = sorted(photo_dir.rglob("*.jpg"))[:3], [tmp_path / "red" / "red.png"]
    for i in range(3):
        photo, own = PairDataset(photos, paintings, 32, (1.5, 1.5), identity=1.0)[i]
        assert own.float().std() > 0 and abs(float(own.float().mean() - photo.float().mean())) < 40
        _, red = PairDataset(photos, paintings, 32, (1.5, 1.5))[i]  # the default: paintings only
        assert torch.equal(red[0], torch.full((32, 32), 255, dtype=red.dtype)) and not red[1:].any()


@pytest.mark.parametrize(
    "override,message",
    [
        ("adain.identity_pairs=1.5", r"adain.identity_pairs=1.5 must be a share in \[0, 1\)"),
        ("adain.paintings=[/nonexistent/paintings]", r"painting folder '/nonexistent/paintings' is missing"),
        ("adain.photos=[/nonexistent/photos]", r"photo folder '/nonexistent/photos' is missing"),
        ("adain.holdout_paintings=[nope.jpg]", r"adain.holdout_paintings names \['nope.jpg'\], in none of"),
        ("adain.painting_scale=[2.0,1.0]", r"adain.painting_scale=\[2.0, 1.0\] must be"),
        ("arch=adian", r"unknown arch=adian; use johnson"),
    ],
)
def test_bad_adain_input_fails_before_training_with_one_line(adain_overrides, override, message, tmp_path):
    with pytest.raises(StylenetError, match=message) as e:
        train(compose_config(adain_overrides + [override]))
    assert "\n" not in str(e.value)
    assert not (tmp_path / "runs" / "adain" / "run" / "checkpoints").exists()


def test_an_empty_painting_folder_is_a_clear_error(adain_overrides, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(StylenetError, match="no paintings found in .*empty; set adain.paintings="):
        train(compose_config(adain_overrides + [f"adain.paintings=[{tmp_path / 'empty'}]"]))


# -- training -----------------------------------------------------------------------------
@pytest.fixture
def adain_overrides(tmp_path, photo_dir, painting_dir) -> list[str]:
    """A seconds-long CPU run on random VGG and tiny images."""
    return [
        "arch=adain",
        f"adain.photos=[{photo_dir}]",
        f"adain.paintings=[{painting_dir}]",
        "adain.holdout_paintings=[p1.png,p4.jpg]",
        "adain.holdout_pairs=3",
        "adain.preview_paintings=2",
        "data.image_size=32",
        "data.batch_size=2",
        "data.num_workers=0",
        "data.holdout=2",
        "data.preview=2",
        "loss.vgg.weights=random",
        "optim.lr=1e-4",
        "trainer=cpu",
        "trainer.precision=32-true",
        "trainer.max_steps=4",
        "trainer.enable_model_summary=false",
        "trainer.log_every_n_steps=1",
        "preview_every_n_steps=2",
        "checkpoint_every_n_steps=2",
        f"paths.output_dir={tmp_path / 'runs' / 'adain' / 'run'}",
        f"paths.runs_dir={tmp_path / 'runs'}",
    ]


@pytest.mark.slow
def test_a_short_run_checkpoints_exports_and_resumes_with_its_step_count(adain_overrides, tmp_path):
    from test_train import tensorboard_tags

    first = train(compose_config(adain_overrides))
    assert first.steps == 4 and first.checkpoint.is_file() and first.weights.name == "adain.safetensors"
    saved = torch.load(first.checkpoint, map_location="cpu", weights_only=True)  # no pickled code needed
    assert saved["global_step"] == 4 and all(k.startswith("net.decoder.") for k in saved["state_dict"])
    scalars, images = tensorboard_tags(first.output_dir / "tensorboard")
    assert {"train/content", "train/style", "train/total", "holdout/total", "holdout/style"} <= scalars
    assert "preview" in images
    net = load_adain(first.weights)
    card = net.card
    assert card["model"] == "adain" and card["steps"] == 4 and card["encoder"].startswith("vgg16 random")
    assert card["training_data"]["holdout_paintings"] == ["p1.png", "p4.jpg"]
    assert (first.output_dir / "card.json").is_file()
    decoder = {k[len("net.decoder.") :]: v for k, v in saved["state_dict"].items()}
    assert all(torch.equal(v, decoder[k]) for k, v in net.decoder.state_dict().items())

    seen = {}

    class Spy(pl.Callback):
        def on_train_start(self, trainer, module):
            seen["step"] = trainer.global_step
            seen["exp_avg"] = trainer.optimizers[0].state_dict()["state"][0]["exp_avg"].clone()

    second_dir = tmp_path / "runs" / "adain" / "run2"
    cfg = compose_config(adain_overrides + ["trainer.max_steps=6", "resume=latest", f"paths.output_dir={second_dir}"])
    second = train(cfg, extra_callbacks=[Spy()])
    assert seen["step"] == 4 and second.steps == 6
    assert torch.equal(seen["exp_avg"], saved["optimizer_states"][0]["state"][0]["exp_avg"])
    assert load_adain(second.weights).card["resumed_from"] == str(first.checkpoint)


@needs_shared
def test_the_experiment_composes_with_the_shared_paths(tmp_path):
    cfg = compose_config(["experiment=adain", "paths=shared", f"paths.output_dir={tmp_path}"])
    assert cfg.arch == "adain" and cfg.optim.lr == 1e-4 and cfg.data.batch_size == 8
    assert cfg.adain.content_weight == 1.0 and cfg.adain.style_weight == 10.0
    assert all(Path(p).is_dir() for p in list(cfg.adain.photos) + list(cfg.adain.paintings))


def test_an_adain_run_resolves_precision_auto_like_every_run(adain_overrides, monkeypatch, capsys):
    """trainer.precision=auto (the default) reaches Lightning as what this hardware runs best."""
    from stylenet import precision as policy

    monkeypatch.setattr(policy, "_warned", set())
    monkeypatch.setenv(policy.ENV, "avx2")
    overrides = [o for o in adain_overrides if not o.startswith("trainer.precision")]
    result = train(compose_config(overrides + ["trainer.precision=auto", "trainer.max_steps=1"]))
    assert "precision: 32-true (auto: " in capsys.readouterr().out
    card = load_adain(result.weights, vgg="random").card
    assert card["recipe"]["precision"] == "32-true" and card["recipe"]["precision_asked"] == "auto"
